/** The string as UTF-8 carries it: each lone surrogate becomes U+FFFD (as on the wire). */
export function wellFormed(value: string): string {
  return new TextDecoder().decode(new TextEncoder().encode(value))
}

/**
 * `application/x-www-form-urlencoded` encoding of a string, byte for byte as Python's `quote_plus` does it:
 * UTF-8, `A-Z a-z 0-9 _ . - ~` kept, space as `+`, every other byte `%XX`. That is encodeURIComponent's,
 * plus `! ' ( ) *` encoded, and lone surrogates sent as U+FFFD instead of throwing.
 */
export function formUrlEncode(value: string): string {
  return encodeURIComponent(wellFormed(value))
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

/**
 * Builds the `Authorization` header value for HTTP Basic client authentication, RFC 6749 §2.3.1: the client
 * id and secret are each form-urlencoded, joined by `:`, and base64-encoded. Works in browsers and Deno
 * (no `Buffer`).
 *
 * @param clientId - The OAuth client id.
 * @param clientSecret - The client secret.
 * @returns `Basic <base64>`, ready for the `authorizationHeader` option of {@link getToken}.
 *
 * @example
 * ```ts
 * const authorizationHeader = getBasicAuthorizationHeader('client_id', 'abc')
 * // 'Basic Y2xpZW50X2lkOmFiYw=='
 * await getToken(tokenEndpoint, { authorizationHeader, scopes: ['api:read'] })
 * ```
 */
export function getBasicAuthorizationHeader(clientId: string, clientSecret: string): string {
  // The encoded form is pure ASCII, so btoa (Latin-1 only) is safe here.
  return `Basic ${btoa(`${formUrlEncode(clientId)}:${formUrlEncode(clientSecret)}`)}`
}
