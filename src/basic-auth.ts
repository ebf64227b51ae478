const encoder = new TextEncoder()
const hex = '0123456789ABCDEF'

/**
 * `application/x-www-form-urlencoded` encoding of a string, byte for byte as Python's `quote_plus` does it:
 * UTF-8, `A-Z a-z 0-9 _ . - ~` kept, space as `+`, every other byte `%XX`.
 * (encodeURIComponent differs: it keeps `! ' ( ) *` and throws on lone surrogates.)
 */
export function formUrlEncode(value: string): string {
  let out = ''
  for (const byte of encoder.encode(value)) {
    if (
      (byte >= 0x30 && byte <= 0x39) ||
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      byte === 0x2d ||
      byte === 0x2e ||
      byte === 0x5f ||
      byte === 0x7e
    ) {
      out += String.fromCharCode(byte)
    } else if (byte === 0x20) {
      out += '+'
    } else {
      out += `%${hex[byte >> 4]}${hex[byte & 15]}`
    }
  }
  return out
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
