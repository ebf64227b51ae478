import ky, { type Options as KyOptions } from 'ky'
import { errorAuthPending, errorSlowDown } from './constants.ts'
import { AuthenticationError, type AuthenticationErrorOptions, AuthenticationPending } from './errors.ts'
import { createRedactor, redactCauseChain } from './redact.ts'
import { resolveFetch, type TransportOptions } from './transport.ts'

/** Bodies larger than this are refused: no token or device answer comes near it, and reading on would let a
 * hostile server exhaust our memory. */
export const maxBodyBytes = 1024 * 1024

/** Milliseconds an HTTP request may take when the caller sets no `timeout`. */
export const defaultTimeout = 30_000
const maxTimerDelay = 2 ** 31 - 1

// Failures worth retrying while polling (network errors, timeouts): marked here, read by `isNetworkFailure`.
const networkFailures = new WeakSet<AuthenticationError>()

/** Whether an error is a network failure or timeout (no answer from the server), which a poll may retry. */
export function isNetworkFailure(err: unknown): boolean {
  return err instanceof AuthenticationError && networkFailures.has(err)
}

/** One credentialed form POST to an OAuth endpoint. */
export interface FormPost {
  /** The endpoint, already checked by `checkEndpoint`. */
  url: URL
  /** What the endpoint is, for messages: "token endpoint", "device authorization endpoint". */
  what: string
  /** The form fields. */
  form: URLSearchParams
  /** The `Authorization` header value, if any. */
  authorization?: string | undefined
  /** Values that must never appear in an error (secrets the request carries); a function is called only on failure. */
  secrets: ReadonlyArray<string | undefined> | (() => ReadonlyArray<string | undefined>)
  /** Whether `authorization_pending`/`slow_down` answers mean {@link AuthenticationPending} (token endpoint). */
  pendingAllowed: boolean
  /** How to send it. */
  transport: TransportOptions
}

/** A successful (2xx, no OAuth `error`) answer whose body parsed as JSON or as a form. */
export interface FormAnswer {
  status: number
  body: unknown
  /** Builds an {@link AuthenticationError} with this request's secrets redacted. */
  fail: (message: string, options?: AuthenticationErrorOptions) => AuthenticationError
}

const tlsCodes =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|certificate|UnknownIssuer|InvalidCertificate/i

/** Finds a TLS certificate failure anywhere in an error's cause chain (Node puts it in `cause.code`, Deno in the message). */
export function certificateProblem(err: unknown): string | undefined {
  let current: unknown = err
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && tlsCodes.test(code)) return code
    if (tlsCodes.test(current.message)) return current.message
    current = current.cause
  }
  return undefined
}

export function describeCause(err: unknown): string {
  const parts: string[] = []
  let current: unknown = err
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    parts.push(typeof code === 'string' ? `${current.message} (${code})` : current.message)
    current = current.cause
  }
  return parts.join(': ') || String(err)
}

/** Reads `Retry-After` (RFC 9110 §10.2.3): delay seconds or an HTTP date. */
function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get('retry-after')
  if (value === null) return undefined
  if (/^\s*\d+\s*$/.test(value)) return Number(value)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000)
}

/** Reads a body up to {@link maxBodyBytes} without ever holding more than that in memory. */
export async function readLimitedText(
  response: Response,
  fail: FormAnswer['fail'],
  what: string,
): Promise<string> {
  const declared = response.headers.get('content-length')
  if (declared !== null && Number(declared) > maxBodyBytes) {
    await response.body?.cancel().catch(() => {})
    throw fail(`The ${what} sent a ${declared}-byte body; bodies over 1 MiB are refused.`, {
      status: response.status,
    })
  }
  // Count what we read even under a small Content-Length: it counts encoded bytes, and fetch decodes gzip, br
  // and zstd, so 20 KB on the wire can be 20 MB in memory (and a browser hides Content-Encoding cross-origin).
  // The exception: an unencoded answer whose headers are all visible (`basic`: server-side runtimes,
  // same-origin) is exactly its Content-Length; text() reads it whole (in Deno one op instead of a chunk loop
  // that costs ~30% of a loopback request, bench/).
  if (
    declared !== null &&
    response.type === 'basic' &&
    (response.headers.get('content-encoding') ?? 'identity').trim().toLowerCase() === 'identity'
  ) {
    return response.text()
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBodyBytes) {
      await reader.cancel().catch(() => {})
      throw fail(`The ${what} sent a body over 1 MiB; it was refused after ${total} bytes.`, {
        status: response.status,
      })
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return new TextDecoder().decode(bytes)
}

/** Parses a body as a form when it says so (GitHub answers that way without a JSON Accept), else as JSON
 * whatever the content type (servers send JSON as text/plain). `undefined` when it is neither. */
function parseBody(text: string, contentType: string): unknown {
  if (contentType.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text))
  }
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function field(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

function numeric(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined
}

/**
 * Sends one credentialed form POST (RFC 6749 §3.2, §4.4.2; RFC 8628 §3.1, §3.4) and reads the answer:
 * redirects are refused, bodies are size-limited, the timeout covers the body, and every failure becomes an
 * {@link AuthenticationError} (or {@link AuthenticationPending}) with the request's secrets redacted.
 */
export async function postForm(post: FormPost): Promise<FormAnswer> {
  const { url, what, transport } = post
  // Built on the first failure only: deriving every encoded form of every secret costs more CPU than the
  // whole rest of a successful request (bench/: about 15 µs of 65 µs in-process).
  let redactor: ((text: string) => string) | undefined
  const fail = (message: string, options: AuthenticationErrorOptions = {}): AuthenticationError => {
    redactor ??= createRedactor(typeof post.secrets === 'function' ? post.secrets() : post.secrets)
    const redact = redactor
    const clean: AuthenticationErrorOptions = { ...options }
    if (clean.error !== undefined) clean.error = redact(clean.error)
    if (clean.errorDescription !== undefined) clean.errorDescription = redact(clean.errorDescription)
    if (clean.errorUri !== undefined) clean.errorUri = redact(clean.errorUri)
    if (clean.cause !== undefined) clean.cause = redactCauseChain(clean.cause, redact)
    return new AuthenticationError(redact(message), clean)
  }

  const userSignal = transport.signal
  userSignal?.throwIfAborted()
  const fetchFn = resolveFetch(transport)
  const timeout = transport.timeout ?? defaultTimeout
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new TypeError(`timeout must be a non-negative number of milliseconds, got ${String(timeout)}.`)
  }
  // One timeout mechanism, ours, covering the body too: a plain timer aborting one controller (which the
  // caller's signal also aborts), cleared once the body is read. Cheaper than AbortSignal.timeout plus
  // AbortSignal.any on every request. Timers overflow past 2^31 - 1 ms: beyond that there is in effect no timeout.
  const controller = new AbortController()
  const { signal } = controller
  let timedOut = false
  const timer =
    timeout <= maxTimerDelay
      ? setTimeout(() => {
          timedOut = true
          controller.abort(new DOMException(`The request timed out after ${timeout} ms.`, 'TimeoutError'))
        }, Math.ceil(timeout))
      : undefined
  const onUserAbort = (): void => controller.abort(userSignal?.reason)
  userSignal?.addEventListener('abort', onUserAbort, { once: true })

  const headers: Record<string, string> = {
    accept: 'application/json',
    'cache-control': 'no-cache',
    'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
  }
  if (post.authorization !== undefined) headers.authorization = post.authorization

  const form = post.form.toString()
  const kyOptions: KyOptions = {
    headers,
    throwHttpErrors: false,
    // A redirect of a credentialed POST would hand the credentials to another URL: never follow it.
    redirect: 'manual',
  }
  if (transport.session === undefined) {
    // One timeout mechanism (ours, which also covers the body) and no retries of a credentialed POST.
    kyOptions.timeout = false
    kyOptions.totalTimeout = false
    kyOptions.retry = 0
    // The body and the signal go to fetch directly: ky's Request (method, headers, redirect) is sent as ky built
    // it, without a body stream to pipe into fetch's copy of it nor a composite signal to follow. The default
    // ky instance has no hooks that could look at either. Measured (bench/): ~15% less CPU per request.
    const send = fetchFn ?? fetch
    kyOptions.fetch = (request, init) => send(request, { ...init, body: form, signal })
  } else {
    // A session's hooks may read or replace the body: give it to ky.
    kyOptions.body = form
    kyOptions.signal = signal
    if (fetchFn !== undefined) kyOptions.fetch = fetchFn
  }

  // Whether the status line arrived: a failure after it is a broken connection, not an unreachable server.
  let answered = false
  const onTransportError = (err: unknown): never => {
    if (userSignal?.aborted) throw userSignal.reason
    if (err instanceof AuthenticationError) throw err
    if (timedOut) {
      const timeoutError = fail(
        `The ${what} (${url.origin}) did not answer within ${timeout} ms: the request timed out.`,
        { cause: err },
      )
      networkFailures.add(timeoutError)
      throw timeoutError
    }
    const tls = certificateProblem(err)
    if (tls !== undefined) {
      throw fail(
        `TLS certificate verification failed for ${url.origin} (${tls}): the server's certificate is not trusted. Pass { verify: '<CA bundle path or PEM>' } with a fetch adapter, or fix the server's certificate.`,
        { cause: err },
      )
    }
    const unreachable = fail(
      answered
        ? `The connection to the ${what} (${url.origin}) broke while reading its answer: ${describeCause(err)}.`
        : `Could not reach the ${what} (${url.origin}): ${describeCause(err)}.`,
      { cause: err },
    )
    networkFailures.add(unreachable)
    throw unreachable
  }

  let response: Response
  let text: string
  try {
    response = await (transport.session ?? ky).post(url, kyOptions)
    answered = true
    if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
      await response.body?.cancel().catch(() => {})
      const status = response.status || 302
      throw fail(
        `The ${what} answered HTTP ${response.status === 0 ? '3xx' : status} (a redirect); it is not followed, as the request carries credentials. Configure the endpoint's final URL.`,
        { status },
      )
    }
    text = await readLimitedText(response, fail, what)
  } catch (err) {
    return onTransportError(err)
  } finally {
    clearTimeout(timer)
    userSignal?.removeEventListener('abort', onUserAbort)
  }

  const { status } = response
  const contentType = response.headers.get('content-type') ?? ''
  const body = parseBody(text, contentType)
  const retryAfter = status === 429 || status === 503 ? retryAfterSeconds(response.headers) : undefined

  // RFC 6749 §5.2 error answer. Some servers send it with 200 (GitHub) or 401/403/428 (Dex, OpenAM): the body decides.
  if (typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string') {
    const errorBody = body as {
      error: string
      error_description?: unknown
      error_uri?: unknown
      interval?: unknown
    }
    const error = errorBody.error
    if (post.pendingAllowed && (error === errorAuthPending || error === errorSlowDown)) {
      throw new AuthenticationPending(error, status, numeric(errorBody.interval))
    }
    const errorDescription = field(errorBody.error_description)
    const errorUri = field(errorBody.error_uri)
    let message = `The ${what} refused the request: HTTP ${status}, ${error}`
    if (errorDescription !== undefined) message += `: ${errorDescription}`
    if (errorUri !== undefined) message += ` (see ${errorUri})`
    const options: AuthenticationErrorOptions = { status, error }
    if (errorDescription !== undefined) options.errorDescription = errorDescription
    if (errorUri !== undefined) options.errorUri = errorUri
    if (retryAfter !== undefined) options.retryAfter = retryAfter
    throw fail(`${message}.`, options)
  }

  if (status < 200 || status > 299) {
    const kind = contentType.split(';')[0]?.trim() || 'no content type'
    const options: AuthenticationErrorOptions = { status }
    if (retryAfter !== undefined) options.retryAfter = retryAfter
    throw fail(
      `The ${what} answered HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''} with ${
        body === undefined ? `a ${kind} body that is not an OAuth error` : 'no OAuth error code'
      }.${status >= 500 || status === 429 ? ' The server is failing or overloaded: try again later.' : ''}`,
      options,
    )
  }

  if (body === undefined) {
    throw fail(
      text.trim() === ''
        ? `The ${what} answered HTTP ${status} with an empty body.`
        : `The ${what} answered HTTP ${status} with a body that is neither JSON nor form-encoded (${contentType || 'no content type'}).`,
      { status },
    )
  }
  return { status, body, fail }
}
