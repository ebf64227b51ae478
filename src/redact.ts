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
 * Scrubs secrets from the messages (and stacks) of an error's `cause` chain, in place where the objects allow
 * it. Some errors cannot be changed (a `DOMException`'s `message` is a getter, a frozen error refuses
 * everything): such a link is replaced by a plain `Error` with the same name and the scrubbed message. A string
 * cause is scrubbed itself. Returns the error to use as the cause.
 */
export function redactCauseChain(err: unknown, redact: (text: string) => string, depth = 0): unknown {
  // A custom fetch may throw (or a cause may be) a bare string, which `toJSON` shows as the cause's message.
  if (typeof err === 'string') return redact(err)
  if (!(err instanceof Error) || depth >= maxCauseDepth) return err
  const clean = {
    message: redact(err.message),
    stack: typeof err.stack === 'string' ? redact(err.stack) : err.stack,
    cause: redactCauseChain(err.cause, redact, depth + 1),
  }
  try {
    for (const key of ['message', 'stack', 'cause'] as const) {
      if (clean[key] === err[key]) continue
      Object.defineProperty(err, key, {
        value: clean[key],
        writable: true,
        configurable: true,
        enumerable: false,
      })
      // defineProperty on a frozen object throws, but a non-configurable own property may silently keep its value.
      if (err[key] !== clean[key]) throw new TypeError('immutable')
    }
    return err
  } catch {
    const copy = new Error(clean.message, clean.cause === undefined ? undefined : { cause: clean.cause })
    copy.name = err.name
    Object.defineProperty(copy, 'stack', { value: clean.stack, writable: true, configurable: true })
    return copy
  }
}
