import ky, { type Options as KyOptions } from 'ky'
import type * as v from 'valibot'
import { errorAuthPending, errorSlowDown } from './constants.ts'
import { AuthenticationError, type AuthenticationErrorOptions, AuthenticationPending } from './errors.ts'
import { createRedactor, redactCauseChain } from './redact.ts'
import { parseOrThrow, toSeconds } from './schemas.ts'
import { resolveFetch, type TransportOptions } from './transport.ts'

/** Bodies larger than this are refused: no OAuth answer comes near it, and reading on would let a hostile
 * server exhaust our memory. */
export const maxBodyBytes = 1024 * 1024

/** Milliseconds an HTTP request may take when the caller sets no `timeout`. */
export const defaultTimeout = 30_000

/** Timers overflow past this many milliseconds (they fire at once): longer delays mean "no limit" or go in steps. */
export const maxTimerDelay = 2 ** 31 - 1

// Failures worth retrying while polling (network errors, timeouts): marked here, read by `isNetworkFailure`.
const networkFailures = new WeakSet<AuthenticationError>()

/** Whether an error is a network failure or timeout (no answer from the server), which a poll may retry. */
export function isNetworkFailure(err: unknown): boolean {
  return err instanceof AuthenticationError && networkFailures.has(err)
}

/** Builds an {@link AuthenticationError} with the request's secrets redacted from everything it holds. */
export type Fail = (message: string, options?: AuthenticationErrorOptions) => AuthenticationError

/** One request to an authorization server: a form POST when `form` is set, else a GET. */
export interface Exchange {
  /** The endpoint, already checked by `checkEndpoint`. */
  url: URL
  /** What the endpoint is, for messages: "token endpoint", "device authorization endpoint". */
  what: string
  /** The form fields (undefined values are left out): the request is then a POST. */
  form?: Record<string, string | undefined>
  /** The `Authorization` header value, if any. */
  authorization?: string | undefined
  /** Values that must never appear in an error (secrets the request carries); called only on failure. */
  secrets?: () => ReadonlyArray<string | undefined>
  /** The `DPoP` header: a proof of possession (RFC 9449 §4.1). */
  dpop?: string | undefined
  /** Sees every answer before it is read, error answers too: a DPoP handle remembers its `DPoP-Nonce` (§8). */
  onResponse?: ((response: Response) => void) | undefined
  /** How to send it. */
  transport: TransportOptions
}

/** A form POST to an OAuth endpoint (RFC 6749 §3.2, RFC 8628 §3.1). */
export interface FormPost extends Exchange {
  form: Record<string, string | undefined>
  /** Whether `authorization_pending`/`slow_down` answers mean {@link AuthenticationPending} (token endpoint). */
  pendingAllowed?: boolean
}

// Node puts a TLS failure's code in `cause.code`, Deno and browsers only in a message.
const tlsCodes = /CERT|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|UnknownIssuer/i
// A server that demands a client certificate (RFC 8705) ends the handshake with an alert: TLS 1.2 clients and
// Deno see it (certificate_required, bad_certificate); under TLS 1.3 undici sees only the socket close.
const clientCertRefused = /certificate_?required|bad_?certificate|other side closed|ECONNRESET/i

/** Describes an error's cause chain (messages and codes), and finds a TLS certificate failure in it. */
function describeCause(err: unknown): { text: string; tls: string | undefined } {
  const parts: string[] = []
  let tls: string | undefined
  let current: unknown = err
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    const coded = typeof code === 'string'
    if (coded && tlsCodes.test(code)) tls ??= code
    if (tlsCodes.test(current.message)) tls ??= current.message
    parts.push(coded ? `${current.message} (${code})` : current.message)
    current = current.cause
  }
  return { text: parts.join(': ') || String(err), tls }
}

/** Reads `Retry-After` (RFC 9110 §10.2.3): delay seconds or an HTTP date. */
function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get('retry-after') ?? ''
  const date = Date.parse(value)
  return /^\s*\d+\s*$/.test(value)
    ? Number(value)
    : date
      ? Math.max(0, (date - Date.now()) / 1000)
      : undefined
}

/** Reads a body up to {@link maxBodyBytes} without ever holding more than that in memory. */
async function readLimitedText(response: Response, tooLarge: () => AuthenticationError): Promise<string> {
  const declared = response.headers.get('content-length')
  if (Number(declared) > maxBodyBytes) {
    await response.body?.cancel().catch(() => {})
    throw tooLarge()
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
  const reader = response.body?.getReader()
  const decoder = new TextDecoder()
  let text = ''
  for (let total = 0; reader !== undefined; ) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBodyBytes) {
      await reader.cancel().catch(() => {})
      throw tooLarge()
    }
    text += decoder.decode(value, { stream: true })
  }
  return text + decoder.decode()
}

/** The request timeout in ms, or a `TypeError` when the caller's `timeout` is not a non-negative number. */
export function checkTimeout(transport: TransportOptions): number {
  const timeout = transport.timeout ?? defaultTimeout
  if (typeof timeout !== 'number' || !(timeout >= 0)) {
    throw new TypeError(`timeout must be a non-negative number of milliseconds, got ${String(timeout)}.`)
  }
  return timeout
}

/**
 * Sends one request to an authorization server, the one HTTP path of the library (token and device POSTs,
 * metadata GETs): one timeout covering the body, the caller's signal, redirects refused (a credentialed request
 * must not be handed to another URL, and metadata is taken only from the issuer's own URL), bodies limited to
 * 1 MiB, and every failure an {@link AuthenticationError} with the request's secrets redacted, its cause chain
 * included. The answer's status is not interpreted.
 */
export async function exchange(
  request: Exchange,
): Promise<{ response: Response; text: string; fail: Fail; where: string }> {
  const { url, what, transport, form } = request
  const where = `${what} ${url.origin}${url.pathname}` // no query: it may carry keys
  // Built on the first failure only: deriving every encoded form of every secret costs more CPU than the
  // whole rest of a successful request (bench/: about 15 µs of 65 µs in-process).
  let redact: ((text: string) => string) | undefined
  const fail: Fail = (message, options = {}) => {
    redact ??= createRedactor(request.secrets?.() ?? [])
    const clean = { ...options, cause: redactCauseChain(options.cause, redact) }
    for (const key of ['error', 'errorDescription', 'errorUri'] as const) {
      const value = clean[key]
      if (value !== undefined) clean[key] = redact(value)
    }
    return new AuthenticationError(redact(message), clean)
  }

  const userSignal = transport.signal
  userSignal?.throwIfAborted()
  const fetchFn = resolveFetch(transport)
  const timeout = checkTimeout(transport)
  // One timeout mechanism, ours, covering the body too: a plain timer aborting one controller (which the
  // caller's signal also aborts), cleared once the body is read. Cheaper than AbortSignal.timeout plus
  // AbortSignal.any on every request. Past the timer limit there is in effect no timeout.
  const controller = new AbortController()
  const { signal } = controller
  let timedOut = false
  const timer =
    timeout <= maxTimerDelay
      ? setTimeout(() => {
          timedOut = true
          controller.abort(new DOMException(`Timed out after ${timeout} ms.`, 'TimeoutError'))
        }, Math.ceil(timeout))
      : undefined
  const onUserAbort = (): void => controller.abort(userSignal?.reason)
  userSignal?.addEventListener('abort', onUserAbort, { once: true })

  const headers: Record<string, string> = { accept: 'application/json' }
  if (request.dpop) headers.dpop = request.dpop
  let body: string | undefined
  if (form !== undefined) {
    body = new URLSearchParams(
      Object.entries(form).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ).toString()
    headers['cache-control'] = 'no-cache'
    headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8'
  }
  if (request.authorization !== undefined) headers.authorization = request.authorization
  const kyOptions: KyOptions = {
    method: body === undefined ? 'get' : 'post',
    headers,
    throwHttpErrors: false,
    redirect: 'manual',
  }
  if (transport.session === undefined) {
    // One timeout mechanism (ours, which also covers the body) and no retries of a credentialed request.
    kyOptions.timeout = false
    kyOptions.totalTimeout = false
    kyOptions.retry = 0
    // The body and the signal go to fetch directly: ky's Request (method, headers, redirect) is sent as ky built
    // it, without a body stream to pipe into fetch's copy of it nor a composite signal to follow. The default
    // ky instance has no hooks that could look at either. Measured (bench/): ~15% less CPU per request.
    const send = fetchFn ?? fetch
    kyOptions.fetch = (input, init) => send(input, { ...init, body, signal })
  } else {
    // A session's hooks may read or replace the body: give it to ky.
    kyOptions.body = body
    kyOptions.signal = signal
    if (fetchFn !== undefined) kyOptions.fetch = fetchFn
    // ky retries a status only when it would throw for it (the seed's mounted `Retry(status_forcelist=…)`
    // retries too): error statuses throw inside ky, which then applies the session's `retry` (methods, status
    // codes, limit, Retry-After); the final answer comes back in the HTTPError and is read like any other.
    kyOptions.throwHttpErrors = (status) => status > 399
  }

  // Whether the status line arrived: a failure after it is a broken connection, not an unreachable server.
  let answered = false
  try {
    let response: Response
    let errorText: string | undefined
    try {
      response = await (transport.session ?? ky)(url, kyOptions)
    } catch (err) {
      // A session's final error answer, in ky's HTTPError (duck-typed: importing the class would cost bytes;
      // not `instanceof Response`: an adapter's undici has its own class). ky has read the body into `data`
      // (JSON parsed, else text): turned back into text, it is read like any other answer.
      const { response: final, data } = err as { response?: Response; data?: unknown }
      if (transport.session === undefined || typeof final?.status !== 'number') throw err
      response = final
      errorText = data === undefined ? '' : typeof data === 'string' ? data : JSON.stringify(data)
    }
    answered = true
    request.onResponse?.(response)
    const status = response.status || 302
    if (status < 400 && status > 299) {
      await response.body?.cancel().catch(() => {})
      throw fail(
        `The ${where} answered HTTP ${response.status || '3xx'}, a redirect: not followed, as credentials must not go elsewhere. Configure the final URL.`,
        { status },
      )
    }
    const text =
      errorText ??
      (await readLimitedText(response, () =>
        fail(`The ${where} sent a body over 1 MiB: refused.`, { status }),
      ))
    return { response, text, fail, where }
  } catch (err) {
    if (userSignal?.aborted) throw userSignal.reason
    if (err instanceof AuthenticationError) throw err
    const cause = describeCause(err)
    const mutual = !answered && !timedOut && url.protocol === 'https:' && clientCertRefused.test(cause.text)
    if (cause.tls !== undefined && !timedOut && !mutual) {
      throw fail(
        `TLS certificate verification failed for ${url.origin} (${cause.tls}): the server's certificate is not trusted. Pass { verify: '<CA bundle path or PEM>' } with a fetch adapter, or fix the server's certificate.`,
        { cause: err },
      )
    }
    const failure = fail(
      timedOut
        ? `The ${where} did not answer within ${timeout} ms: the request timed out.`
        : answered
          ? `The connection to the ${where} broke while reading its answer: ${cause.text}.`
          : `Could not reach the ${where}: ${cause.text}.${mutual ? ' If it demands a client certificate (mutual TLS), pass one it trusts in clientCert.' : ''}`,
      { cause: err },
    )
    networkFailures.add(failure)
    throw failure
  } finally {
    clearTimeout(timer)
    userSignal?.removeEventListener('abort', onUserAbort)
  }
}

/**
 * Sends one credentialed form POST (RFC 6749 §3.2, §4.4.2; RFC 7009 §2.1; RFC 8628 §3.1, §3.4) with
 * {@link exchange} and reads the answer: an OAuth error body (RFC 6749 §5.2) becomes an
 * {@link AuthenticationError} (or {@link AuthenticationPending}) whatever the status, as does any other failure
 * status. Resolves to the parsed body (JSON, or a form), `undefined` when it is neither; with `bodyRequired`,
 * a success without one fails too.
 */
async function sendForm(
  post: FormPost,
  bodyRequired: boolean,
): Promise<{ body: unknown; status: number; fail: Fail; where: string }> {
  const { response, text, fail, where } = await exchange(post)
  const { status, headers } = response
  const contentType = headers.get('content-type') ?? ''
  // A form when it says so (GitHub answers that way without a JSON Accept), else JSON whatever the content
  // type (servers send JSON as text/plain); `undefined` when it is neither.
  let body: unknown
  try {
    body = contentType.includes('application/x-www-form-urlencoded')
      ? Object.fromEntries(new URLSearchParams(text))
      : JSON.parse(text)
  } catch {}
  const options: AuthenticationErrorOptions = {
    status,
    retryAfter: status === 429 || status === 503 ? retryAfterSeconds(headers) : undefined,
  }

  // RFC 6749 §5.2 error answer. Some servers send it with 200 (GitHub) or 401/403/428 (Dex, OpenAM): the body decides.
  const fields = (body ?? {}) as {
    error?: unknown
    error_description?: unknown
    error_uri?: unknown
    interval?: unknown
  }
  const error = fields.error
  if (typeof error === 'string') {
    if (post.pendingAllowed && (error === errorAuthPending || error === errorSlowDown)) {
      throw new AuthenticationPending(error, status, toSeconds(fields.interval))
    }
    const errorDescription =
      typeof fields.error_description === 'string' ? fields.error_description : undefined
    const errorUri = typeof fields.error_uri === 'string' ? fields.error_uri : undefined
    throw fail(
      `The ${where} refused the request: HTTP ${status}, ${error}${errorDescription === undefined ? '' : `: ${errorDescription}`}${
        errorUri === undefined ? '' : ` (see ${errorUri})`
      }.`,
      { ...options, error, errorDescription, errorUri },
    )
  }

  if (!response.ok || (bodyRequired && body === undefined)) {
    throw fail(
      `The ${where} answered HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''} with ${
        text.trim() === ''
          ? 'an empty body'
          : body === undefined
            ? `a body that is neither JSON nor form-encoded (${contentType.split(';')[0] || 'no content type'})`
            : 'no OAuth error code'
      }${status > 499 || status === 429 ? '; the server is failing or overloaded: try again later' : ''}.`,
      options,
    )
  }
  return { body, status, fail, where }
}

/**
 * A form POST whose success answer is a JSON (or form) body valid for `schema` (token and device
 * authorization endpoints); see {@link sendForm} for the failures.
 */
export async function postForm<TSchema extends v.GenericSchema>(
  post: FormPost,
  schema: TSchema,
): Promise<v.InferOutput<TSchema>> {
  const { body, status, fail, where } = await sendForm(post, true)
  return parseOrThrow(schema, body, (issues) =>
    fail(`The ${where} answered HTTP ${status} with an invalid response: ${issues}.`, { status }),
  )
}

/**
 * A form POST whose success is its status alone, any body (even an empty one) ignored: RFC 7009 §2.2
 * revocation. An OAuth error body still fails, whatever the status, as in {@link postForm}.
 */
export async function postFormForStatus(post: FormPost): Promise<void> {
  await sendForm(post, false)
}
