/**
 * A PKCE pair (RFC 7636): the secret `codeVerifier` the client keeps until the token request, and the
 * `codeChallenge` derived from it that goes in the authorization request. The method is always `S256`: `plain`
 * would put the verifier itself in the browser's address bar (RFC 7636 §4.2, §7.2).
 *
 * @example
 * ```ts
 * const pkce: Pkce = await createPkce()
 * const url = buildAuthorizationUrl(authorizationEndpoint, clientId, { redirectUri, state, codeChallenge: pkce.codeChallenge })
 * // ... later, with the code from the callback:
 * await getToken(tokenEndpoint, { grantType: GrantType.AUTHORIZATION_CODE, code, redirectUri, codeVerifier: pkce.codeVerifier, clientId })
 * ```
 */
export interface Pkce {
  /** The secret verifier (RFC 7636 §4.1): 43 characters of base64url. Send it only to the token endpoint. */
  codeVerifier: string
  /** `BASE64URL(SHA-256(codeVerifier))` (RFC 7636 §4.2), for the authorization request. */
  codeChallenge: string
  /** Always `S256`. */
  codeChallengeMethod: 'S256'
}

/**
 * Encodes bytes as base64url without padding (RFC 4648 §5, RFC 7636 Appendix A), with web APIs only.
 * Internal (not exported from the package): also the way to make a random `state`.
 *
 * @example
 * ```ts
 * const state = base64UrlEncode(crypto.getRandomValues(new Uint8Array(16))) // 22 characters
 * ```
 */
export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** RFC 7636 §4.1: code-verifier = 43*128unreserved. */
const verifierFormat = /^[A-Za-z0-9._~-]{43,128}$/

/** Web Crypto, or a `TypeError` saying why it is missing (a browser page served over plain http). */
function webCrypto(): Crypto {
  const crypto = (globalThis as { crypto?: Crypto }).crypto
  if (crypto?.subtle === undefined) {
    throw new TypeError(
      'PKCE needs Web Crypto (crypto.subtle), which this runtime lacks: browsers offer it only in secure contexts, so serve the page over https:// (or from localhost).',
    )
  }
  return crypto
}

/**
 * Derives the S256 code challenge of a code verifier: `BASE64URL(SHA-256(ASCII(verifier)))`, RFC 7636 §4.2.
 * {@link createPkce} uses it; call it yourself only when the verifier comes from elsewhere.
 *
 * @param verifier - A code verifier: 43 to 128 characters of `A-Z a-z 0-9 - . _ ~` (RFC 7636 §4.1).
 * @returns The challenge, 43 characters of base64url.
 * @throws `TypeError` for a verifier outside the RFC 7636 §4.1 format (the verifier is not echoed), or a
 *   runtime without Web Crypto.
 *
 * @example
 * ```ts
 * await calculatePkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')
 * // 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' (RFC 7636 Appendix B)
 * ```
 */
export async function calculatePkceChallenge(verifier: string): Promise<string> {
  if (typeof verifier !== 'string' || !verifierFormat.test(verifier)) {
    throw new TypeError(
      'A PKCE code verifier is 43 to 128 characters of A-Z, a-z, 0-9, "-", ".", "_" and "~" (RFC 7636 §4.1): use createPkce().',
    )
  }
  const digest = await webCrypto().subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return base64UrlEncode(new Uint8Array(digest))
}

/**
 * Creates a fresh PKCE pair for one authorization request (RFC 7636 §4.1–4.2): 32 random bytes from
 * `crypto.getRandomValues`, base64url-encoded into a 43-character verifier (256 bits of entropy, as §7.1
 * recommends), and its S256 challenge. Web Crypto only: it runs in browsers (secure contexts), Deno and Node.
 *
 * @returns The verifier (keep it secret until the token request), its challenge and `'S256'`.
 * @throws `TypeError` when the runtime has no Web Crypto (a browser page over plain http).
 *
 * @example
 * ```ts
 * const { codeVerifier, codeChallenge } = await createPkce()
 * const url = buildAuthorizationUrl(authorizationEndpoint, 'my-app', { redirectUri, state, codeChallenge })
 * ```
 */
export async function createPkce(): Promise<Pkce> {
  const codeVerifier = base64UrlEncode(webCrypto().getRandomValues(new Uint8Array(32)))
  return {
    codeVerifier,
    codeChallenge: await calculatePkceChallenge(codeVerifier),
    codeChallengeMethod: 'S256',
  }
}
