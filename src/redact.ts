/** What every secret is replaced with in error messages and their serialised forms. */
export const redacted = '[redacted]'

// Secrets shorter than this are not scrubbed: replacing every "a" in a message would destroy it and protect
// nothing (a 3-character secret is not a secret).
const minSecretLength = 4

/**
 * Builds a function that replaces every occurrence of the given secrets (and their form-urlencoded and
 * base64 forms, as a server may echo either) with `[redacted]`.
 */
export function createRedactor(secrets: ReadonlyArray<string | undefined>): (text: string) => string {
  const needles = new Set<string>()
  for (const secret of secrets) {
    if (secret === undefined || secret.length < minSecretLength) continue
    needles.add(secret)
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret) needles.add(encoded)
    const plus = encoded.replace(/%20/g, '+')
    if (plus !== encoded) needles.add(plus)
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
