import { type JwsAlgorithm, randomId, signingKey, signJwt } from './jws.ts'
import { base64UrlEncode } from './pkce.ts'

/**
 * RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion.
 *
 * @example
 * ```ts
 * form.set('client_assertion_type', clientAssertionType)
 * ```
 */
export const clientAssertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/**
 * How a request authenticates the client with a JWT (RFC 7523 §2.2): a ready assertion (you make a fresh one
 * per request: servers refuse a replayed `jti`), or a function called for every request, with the URL of the
 * endpoint it goes to, that makes a fresh one (what {@link clientAuthOptions} returns for `private_key_jwt`
 * and `client_secret_jwt`).
 *
 * @example
 * ```ts
 * const clientAssertion: ClientAssertion = (endpoint) => createClientAssertion('svc', endpoint, clientKey)
 * await getToken(tokenEndpoint, { clientId: 'svc', clientAssertion })
 * ```
 */
export type ClientAssertion = string | ((endpoint: URL) => string | Promise<string>)

/**
 * Options of {@link createClientAssertion}.
 *
 * @example
 * ```ts
 * const options: ClientAssertionOptions = { keyId: '2024-01', lifetime: 30 }
 * ```
 */
export interface ClientAssertionOptions {
  /** The JWS alg; default: the key's (a CryptoKey's algorithm, a JWK's `alg` or key type). */
  clientKeyAlg?: JwsAlgorithm
  /** The JWS `kid` header (RFC 7515 §4.1.4): which of the client's registered keys signed. */
  keyId?: string
  /** Seconds until `exp`; default 60 (a short life: the assertion is made for one request). */
  lifetime?: number
  /** The clock, epoch milliseconds; default `Date.now`. */
  now?: () => number
}

/**
 * Makes a client assertion (RFC 7523 §2.2, §3; OpenID Connect Core §9): a JWT with `iss` = `sub` = the client id,
 * `aud` = the authorization server, a random `jti`, `iat` now and `exp` 60 s later, signed with the client's
 * private key (`private_key_jwt`) or, given the client secret as a string, HMAC-SHA-256 (`client_secret_jwt`).
 * Web Crypto only. Make one per request: servers refuse a `jti` they have seen (RFC 7523 §3 item 7).
 *
 * @param clientId - The client id, for `iss` and `sub`.
 * @param audience - The authorization server as it wants to be named in `aud` (RFC 7523 §3 item 3): its issuer
 *   identifier, or its token endpoint URL (most servers accept the latter; some want the issuer only).
 * @param key - A private `CryptoKey` or JWK (RS256, PS256, ES256, EdDSA), or the client secret (HS256).
 * @param options - `clientKeyAlg`, `keyId`, `lifetime`, clock.
 * @returns The compact JWS, for `client_assertion`.
 * @throws `TypeError` for an unusable key or alg (the key is never echoed), a missing client id or audience.
 *
 * @example
 * ```ts
 * const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
 * const assertion = await createClientAssertion('my-service', 'https://idp.example/oauth2/token', privateKey, { keyId: 'k1' })
 * await getToken('https://idp.example/oauth2/token', { clientId: 'my-service', clientAssertion: assertion })
 * ```
 */
export async function createClientAssertion(
  clientId: string,
  audience: string | URL,
  key: CryptoKey | JsonWebKey | string,
  options: ClientAssertionOptions = {},
): Promise<string> {
  if (typeof clientId !== 'string' || clientId === '' || String(audience) === '') {
    throw new TypeError(
      'createClientAssertion needs the client id and the audience (the issuer or token endpoint URL).',
    )
  }
  const signer = await assertionKey(key, options.clientKeyAlg)
  const now = Math.floor((options.now ?? Date.now)() / 1000)
  return signJwt(
    options.keyId === undefined ? { typ: 'JWT' } : { typ: 'JWT', kid: options.keyId },
    {
      iss: clientId,
      sub: clientId,
      aud: String(audience),
      jti: randomId(),
      iat: now,
      exp: now + (options.lifetime ?? 60),
    },
    signer.key,
    signer.alg,
  )
}

/** The signing key of an assertion: a client secret becomes an HS256 JWK (RFC 7518 §6.4). */
export function assertionKey(
  key: CryptoKey | JsonWebKey | string,
  alg: JwsAlgorithm | undefined,
): ReturnType<typeof signingKey> {
  if (typeof key === 'string') {
    if (key.includes('-----BEGIN')) {
      throw new TypeError('A PEM key is text: import it first with importPrivateKeyPem(pem).')
    }
    if (alg !== undefined && alg !== 'HS256') {
      throw new TypeError(`A client secret signs HS256 (client_secret_jwt), not ${alg}.`)
    }
    key = { kty: 'oct', k: base64UrlEncode(new TextEncoder().encode(key)) }
  }
  return signingKey(key, alg, 'clientKey')
}

/**
 * The form fields of a JWT client authentication (RFC 7523 §2.2) for a request to `url`, a fresh assertion
 * when the source is a function; no fields without one.
 */
export async function clientAssertionFields(
  source: ClientAssertion | undefined,
  url: URL,
): Promise<{ client_assertion_type?: string; client_assertion?: string }> {
  if (source === undefined) return {}
  return {
    client_assertion_type: clientAssertionType,
    client_assertion: typeof source === 'function' ? await source(url) : source,
  }
}
