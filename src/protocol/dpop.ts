import { algorithmOf, type JwsAlgorithm, randomId, signJwt, subtle } from './jws.ts'
import { base64UrlEncode } from './pkce.ts'

/**
 * Options of {@link createDPoP}.
 *
 * @example
 * ```ts
 * const options: DPoPOptions = { now: () => Date.now() + serverClockOffset }
 * ```
 */
export interface DPoPOptions {
  /** The clock for `iat`, epoch milliseconds; default `Date.now`. */
  now?: () => number
}

/**
 * A DPoP key and what the client knows about the servers it proves possession to (RFC 9449): it makes proofs
 * and remembers each server's `DPoP-Nonce`. It is the caller's state (keep one per key and session), so that
 * the protocol functions stay stateless: pass it as `dpop` to {@link getToken}, {@link pollTokenEndpoint},
 * {@link getDeviceCode}, and use {@link DPoPHandle.withProof} for resource requests.
 *
 * @example
 * ```ts
 * const dpop: DPoPHandle = await createDPoP()
 * const token = await getToken(tokenEndpoint, { ...clientAuth, dpop }) // token.tokenType === 'DPoP'
 * const res = await dpop.withProof('GET', apiUrl, (proof) =>
 *   fetch(apiUrl, { headers: { authorization: `DPoP ${token.accessToken}`, dpop: proof } }), token.accessToken)
 * ```
 */
export interface DPoPHandle {
  /** The key pair; its private key signs the proofs (non-extractable when {@link createDPoP} made it). */
  readonly keyPair: CryptoKeyPair
  /** The JWS alg of the proofs (RFC 9449 §4.2). */
  readonly alg: JwsAlgorithm
  /** The public key as it goes in the proof header: the required members only (RFC 7638 §3.2). */
  readonly publicJwk: JsonWebKey
  /**
   * The key's JWK SHA-256 thumbprint (RFC 7638), base64url: the `jkt` a bound token's `cnf` claim carries
   * (RFC 9449 §6), and the `dpop_jkt` of an authorization request (§10).
   */
  readonly jkt: string
  /**
   * A proof for one request (RFC 9449 §4.2): `typ` `dpop+jwt`, the public `jwk` in the header; `htm` (the method
   * as fetch sends it: `get` becomes `GET`, `patch` stays `patch`), `htu`
   * (the URL without query and fragment), `iat`, a random `jti`; `ath` (SHA-256 of the access token, §4.2) when
   * one is given, for resource requests; `nonce`, the last one the URL's origin sent.
   */
  proof(method: string, url: string | URL, accessToken?: string): Promise<string>
  /** The last `DPoP-Nonce` the URL's origin sent (RFC 9449 §8, §9), if any. */
  nonce(url: string | URL): string | undefined
  /** Remembers a `DPoP-Nonce` for the URL's origin (e.g. one kept from an earlier run). */
  setNonce(url: string | URL, nonce: string): void
  /**
   * Remembers the `DPoP-Nonce` of an answer from `url` (any answer may carry one, RFC 9449 §8.2).
   * @returns Whether the answer is a resource server's nonce challenge (§9): 401 with
   *   `WWW-Authenticate: DPoP error="use_dpop_nonce"`, to be retried with a new proof.
   */
  observe(url: string | URL, response: Response): boolean
  /**
   * Sends one request with a proof, and once more with a new proof when the server demands a nonce it has just
   * sent (RFC 9449 §8: a `use_dpop_nonce` error thrown by `send`, e.g. {@link getToken}'s; §9: a 401 `Response`
   * with `WWW-Authenticate: DPoP error="use_dpop_nonce"`), never more than once. Every `Response` returned, or
   * given to `observe`, has its `DPoP-Nonce` remembered. `send` is called again for the retry: its body must be
   * re-readable (a string, not a stream).
   *
   * @param send - Sends the request with `proof` in the `DPoP` header; `observe` takes the answer's headers when
   *   `send` does not return the `Response` itself.
   * @param accessToken - For a resource request: bound into the proof as `ath`.
   */
  withProof<T>(
    method: string,
    url: string | URL,
    send: (proof: string, observe: (response: Response) => void) => Promise<T>,
    accessToken?: string,
  ): Promise<T>
}

const encoder = /* @__PURE__ */ new TextEncoder()

async function sha256(text: string): Promise<string> {
  return base64UrlEncode(new Uint8Array(await subtle().digest('SHA-256', encoder.encode(text))))
}

/** RFC 7638 §3.2: the required members of each key type, in lexicographic order. */
const requiredMembers: Record<string, string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
}

// RFC 9449 §9: `WWW-Authenticate: DPoP error="use_dpop_nonce"` (the scheme may follow others).
const nonceChallenge = /(^|,)\s*dpop\b[\s\S]*?\berror\s*=\s*"?use_dpop_nonce\b/i

/** The method as fetch sends it (Fetch §2.2.1 "normalize"): these six upper-cased, any other as it is. */
function normalizeMethod(method: string): string {
  const upper = method.toUpperCase()
  return /^(DELETE|GET|HEAD|OPTIONS|POST|PUT)$/.test(upper) ? upper : method
}

/**
 * Creates a {@link DPoPHandle} (RFC 9449): with no key pair, it generates an ES256 (P-256) pair whose private key
 * is non-extractable (it can be kept in IndexedDB, never read out). A given pair must be an asymmetric one this
 * library signs with (ES256, RS256, PS256, EdDSA), its public key exportable (as Web Crypto makes them).
 *
 * @param keyPair - The key to bind tokens to; default a new non-extractable ES256 pair.
 * @param options - The clock for `iat`.
 * @throws `TypeError` for a key pair that cannot make proofs, or a runtime without Web Crypto.
 *
 * @example
 * ```ts
 * const dpop = await createDPoP()
 * const { accessToken, tokenType } = await getToken(tokenEndpoint, { authorizationHeader, dpop }) // 'DPoP'
 * // RFC 9449 §7.1: the token goes with the DPoP scheme, and every request with a fresh proof.
 * await fetch(api, { headers: { authorization: `DPoP ${accessToken}`, dpop: await dpop.proof('GET', api, accessToken) } })
 * ```
 */
export async function createDPoP(keyPair?: CryptoKeyPair, options: DPoPOptions = {}): Promise<DPoPHandle> {
  const pair =
    keyPair ??
    ((await subtle().generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair)
  const alg = pair?.privateKey === undefined ? undefined : algorithmOf(pair.privateKey)
  if (alg === undefined || alg === 'HS256' || pair.publicKey?.type !== 'public') {
    throw new TypeError(
      'createDPoP needs an asymmetric key pair (ES256, RS256, PS256 or EdDSA) or none (ES256 is generated).',
    )
  }
  const exported = await subtle().exportKey('jwk', pair.publicKey)
  const members = requiredMembers[exported.kty ?? ''] ?? []
  const publicJwk = Object.fromEntries(
    members.map((name) => [name, exported[name as keyof JsonWebKey]]),
  ) as JsonWebKey
  const jkt = await sha256(JSON.stringify(publicJwk))
  const now = options.now ?? Date.now
  const nonces = new Map<string, string>()
  const originOf = (url: string | URL): string => new URL(url).origin

  const handle: DPoPHandle = {
    keyPair: pair,
    alg,
    publicJwk,
    jkt,
    async proof(method, url, accessToken) {
      const htu = new URL(url)
      // RFC 9449 §4.2: htu is the target URI without query and fragment.
      htu.search = ''
      htu.hash = ''
      const payload: Record<string, unknown> = {
        jti: randomId(),
        htm: normalizeMethod(method),
        htu: htu.href,
        iat: Math.floor(now() / 1000),
      }
      const nonce = nonces.get(htu.origin)
      if (nonce !== undefined) payload.nonce = nonce
      if (accessToken !== undefined) payload.ath = await sha256(accessToken)
      return signJwt({ typ: 'dpop+jwt', jwk: publicJwk }, payload, pair.privateKey, alg)
    },
    nonce: (url) => nonces.get(originOf(url)),
    setNonce(url, nonce) {
      if (typeof nonce === 'string' && nonce !== '') nonces.set(originOf(url), nonce)
    },
    observe(url, response) {
      const nonce = response.headers.get('dpop-nonce')
      if (nonce !== null) handle.setNonce(url, nonce)
      return response.status === 401 && nonceChallenge.test(response.headers.get('www-authenticate') ?? '')
    },
    async withProof(method, url, send, accessToken) {
      for (let retried = false; ; retried = true) {
        const before = handle.nonce(url)
        const observe = (response: Response): void => {
          handle.observe(url, response)
        }
        const retry = (): boolean => !retried && handle.nonce(url) !== before
        let result: Awaited<ReturnType<typeof send>>
        try {
          result = await send(await handle.proof(method, url, accessToken), observe)
        } catch (err) {
          // RFC 9449 §8: the authorization server's 400 use_dpop_nonce, with the nonce to use.
          if ((err as { error?: unknown } | null)?.error === 'use_dpop_nonce' && retry()) continue
          throw err
        }
        const response = result as Response | undefined
        if (typeof response?.headers?.get === 'function' && typeof response.status === 'number') {
          if (handle.observe(url, response) && retry()) {
            await response.body?.cancel().catch(() => {})
            continue
          }
        }
        return result
      }
    },
  }
  return handle
}
