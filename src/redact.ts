import { formUrlEncode } from './basic-auth.ts'

/** What every secret is replaced with in error messages and their serialised forms. */
export const redacted = '[redacted]'

// Secrets shorter than this are not scrubbed: replacing every "a" in a message would destroy it and protect
// nothing (a 3-character secret is not a secret).
const minSecretLength = 4

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Builds a function that replaces every occurrence of the given secrets (and their URL-encoded forms, as a
 * server may echo either) with `[redacted]`. Secrets shorter than 4 characters are left alone.
 */
export function createRedactor(secrets: ReadonlyArray<string | undefined>): (text: string) => string {
  const needles = new Set<string>()
  for (const secret of secrets) {
    if (secret === undefined || secret.length < minSecretLength) continue
    needles.add(secret)
    // A lone surrogate goes on the wire as U+FFFD, and a server echoes it so.
    needles.add(decoder.decode(encoder.encode(secret)))
    // The encoded forms a server may echo: ours (Python's quote_plus), URLSearchParams' (how the form was
    // sent), and encodeURIComponent's.
    needles.add(formUrlEncode(secret))
    needles.add(new URLSearchParams({ s: secret }).toString().slice(2))
    try {
      const encoded = encodeURIComponent(secret)
      needles.add(encoded)
      needles.add(encoded.replace(/%20/g, '+'))
    } catch {
      // A lone surrogate: encodeURIComponent throws, and the forms above already cover what was sent.
    }
  }
  if (needles.size === 0) return (text) => text
  // Longest first, so that a secret containing another is scrubbed whole.
  const ordered = [...needles].sort((a, b) => b.length - a.length)
  return (text) => {
    let out = text
    for (const needle of ordered) out = out.split(needle).join(redacted)
    return out
  }
}

/**
 * The secret parts of an `Authorization` value: the value itself, its credentials and, for Basic, the
 * decoded client secret in both encoded and plain forms (servers echo any of them).
 */
export function authorizationSecrets(header: string | undefined): string[] {
  if (header === undefined) return []
  const out = [header]
  const space = header.indexOf(' ')
  if (space < 0) return out
  const credentials = header.slice(space + 1).trim()
  out.push(credentials)
  if (!/^basic$/i.test(header.slice(0, space))) return out
  try {
    const decoded = atob(credentials)
    const colon = decoded.indexOf(':')
    if (colon >= 0) {
      const encodedSecret = decoded.slice(colon + 1)
      out.push(encodedSecret)
      try {
        out.push(decodeURIComponent(encodedSecret.replace(/\+/g, ' ')))
      } catch {
        // Not form-encoded: the raw form above is all there is.
      }
    }
  } catch {
    // Not base64: nothing more to derive.
  }
  return out
}

const maxCauseDepth = 8

/**
 * Scrubs secrets from the messages (and stacks) of an error's `cause` chain, in place where the objects allow
 * it. Some errors cannot be changed (a `DOMException`'s `message` is a getter, a frozen error refuses
 * everything): such a link is replaced by a plain `Error` with the same name and the scrubbed message.
 * Returns the error to use as the cause.
 */
export function redactCauseChain(err: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (!(err instanceof Error) || depth >= maxCauseDepth) return err
  const message = redact(err.message)
  const stack = typeof err.stack === 'string' ? redact(err.stack) : undefined
  const cause = err.cause === undefined ? undefined : redactCauseChain(err.cause, redact, depth + 1)
  try {
    if (message !== err.message) define(err, 'message', message)
    if (stack !== undefined && stack !== err.stack) define(err, 'stack', stack)
    if (cause !== err.cause) define(err, 'cause', cause)
    return err
  } catch {
    const copy = new Error(message, cause === undefined ? undefined : { cause })
    copy.name = err.name
    if (stack !== undefined) define(copy, 'stack', stack)
    return copy
  }
}

function define(target: Error, key: 'message' | 'stack' | 'cause', value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false })
  // defineProperty on a frozen object throws, but a non-configurable own property may silently keep its value.
  if ((target as unknown as Record<string, unknown>)[key] !== value) throw new TypeError('immutable')
}
