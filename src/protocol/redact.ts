import { formUrlEncode, wellFormed } from './basic-auth.ts'

/** What every secret is replaced with in error messages and their serialised forms. */
export const redacted = '[redacted]'

// Secrets shorter than this are not scrubbed: replacing every "a" in a message would destroy it and protect
// nothing (a 3-character secret is not a secret).
const minSecretLength = 4

/**
 * Builds a function that replaces every occurrence of the given secrets (and their URL-encoded forms, as a
 * server may echo either) with `[redacted]`. Secrets shorter than 4 characters are left alone.
 */
export function createRedactor(secrets: ReadonlyArray<string | undefined>): (text: string) => string {
  const needles = new Set<string>()
  for (const secret of secrets) {
    if (secret === undefined || secret.length < minSecretLength) continue
    // A lone surrogate goes on the wire as U+FFFD, and a server echoes it so; encodeURIComponent cannot throw
    // on this well-formed copy.
    const sent = wellFormed(secret)
    const encoded = encodeURIComponent(sent)
    // The forms a server may echo: as is, ours (Python's quote_plus), URLSearchParams' (how the form was sent),
    // and encodeURIComponent's, with spaces as %20 or +.
    needles
      .add(secret)
      .add(sent)
      .add(formUrlEncode(secret))
      .add(new URLSearchParams({ s: secret }).toString().slice(2))
      .add(encoded)
      .add(encoded.replace(/%20/g, '+'))
  }
  // Longest first, so that a secret containing another is scrubbed whole.
  const ordered = [...needles].sort((a, b) => b.length - a.length)
  return (text) => ordered.reduce((out, needle) => out.split(needle).join(redacted), text)
}

/**
 * The secret parts of an `Authorization` value: the value itself, its credentials and, for Basic, the
 * decoded client secret in both encoded and plain forms (servers echo any of them).
 */
export function authorizationSecrets(header: string | undefined): string[] {
  if (header === undefined) return []
  const [scheme, credentials = ''] = header.split(/ (.*)/s)
  const out = [header, credentials.trim()]
  try {
    // Basic: base64(id:secret), the secret form-encoded (RFC 6749 §2.3.1) or not.
    const secret = /^basic$/i.test(scheme ?? '') ? atob(credentials.trim()).split(/:(.*)/s)[1] : undefined
    if (secret !== undefined) {
      out.push(secret)
      out.push(decodeURIComponent(secret.replace(/\+/g, ' ')))
    }
  } catch {
    // Not base64, or not form-encoded: the forms above are all there is.
  }
  return out
}

const maxCauseDepth = 8

/**
 * Copies an error's `cause` chain with secrets scrubbed from every message and stack. Each link becomes a plain
 * `Error` keeping only `name`, `message`, `stack`, `code` and `cause`: the originals may carry much more that
 * `util.inspect` or a logger prints (ky's errors hold the whole `request` with its `Authorization` header), and
 * some cannot be changed at all (a `DOMException`'s `message` is a getter, a frozen error refuses everything).
 * A cause that is not an `Error` is kept as scrubbed text; links past the eighth are dropped.
 */
export function redactCauseChain(err: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (err === undefined || depth >= maxCauseDepth) return undefined
  // Anything else that is not an Error (a plain object may hold a request) is kept only as scrubbed text.
  if (!(err instanceof Error)) {
    let text: string
    try {
      text = String(err)
    } catch {
      text = typeof err
    }
    return redact(text)
  }
  const cause = redactCauseChain(err.cause, redact, depth + 1)
  const copy = new Error(redact(err.message), cause === undefined ? undefined : { cause })
  copy.name = err.name
  const { code } = err as { code?: unknown }
  if (typeof code === 'string' || typeof code === 'number') Object.assign(copy, { code })
  Object.defineProperty(copy, 'stack', {
    value: typeof err.stack === 'string' ? redact(err.stack) : err.stack,
    writable: true,
    configurable: true,
  })
  return copy
}
