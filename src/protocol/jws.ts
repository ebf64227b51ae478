import { base64UrlEncode } from './pkce.ts'

/**
 * The JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1) this library signs with, all on Web Crypto:
 * `RS256` (RSASSA-PKCS1-v1_5), `PS256` (RSASSA-PSS), `ES256` (ECDSA P-256), `EdDSA` (Ed25519, where the runtime
 * has it: Node, Deno, recent browsers) and `HS256` (HMAC, `client_secret_jwt` only).
 *
 * @example
 * ```ts
 * const alg: JwsAlgorithm = 'ES256'
 * await getToken(tokenEndpoint, clientAuthOptions('private_key_jwt', clientId, jwk, { clientKeyAlg: alg }))
 * ```
 */
export type JwsAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'EdDSA' | 'HS256'

// What Web Crypto needs per JWS alg: the key's import parameters and the sign() parameters.
const algorithms: Record<JwsAlgorithm, { key: Algorithm & Record<string, unknown>; sign: Algorithm }> = {
  RS256: { key: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  // RFC 7518 §3.5: the salt is as long as the hash.
  PS256: {
    key: { name: 'RSA-PSS', hash: 'SHA-256' },
    sign: { name: 'RSA-PSS', saltLength: 32 } as Algorithm,
  },
  ES256: {
    key: { name: 'ECDSA', namedCurve: 'P-256' },
    sign: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
  },
  EdDSA: { key: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  HS256: { key: { name: 'HMAC', hash: 'SHA-256' }, sign: { name: 'HMAC' } },
}

/** Web Crypto's `subtle`, or a `TypeError` saying why it is missing (a browser page over plain http). */
export function subtle(): SubtleCrypto {
  const crypto = (globalThis as { crypto?: Crypto }).crypto
  if (crypto?.subtle === undefined) {
    throw new TypeError(
      'Signing needs Web Crypto (crypto.subtle), which this runtime lacks: browsers offer it only in secure contexts, so serve the page over https:// (or from localhost).',
    )
  }
  return crypto.subtle
}

/** The JWS alg of a Web Crypto key, from its algorithm (name, hash, curve); `undefined` for one we cannot sign with. */
export function algorithmOf(key: CryptoKey): JwsAlgorithm | undefined {
  const { name, hash, namedCurve } = key.algorithm as KeyAlgorithm & {
    hash?: { name: string }
    namedCurve?: string
  }
  return (Object.keys(algorithms) as JwsAlgorithm[]).find((alg) => {
    const wanted = algorithms[alg].key
    return (
      wanted.name === name &&
      (wanted.hash === undefined || wanted.hash === hash?.name) &&
      (wanted.namedCurve === undefined || wanted.namedCurve === namedCurve)
    )
  })
}

/** The JWS alg a JWK is for: its `alg` member, else what its key type implies (RSA keys: RS256). */
function jwkAlgorithm(jwk: JsonWebKey): string | undefined {
  return (
    jwk.alg ??
    (jwk.kty === 'EC' && jwk.crv === 'P-256'
      ? 'ES256'
      : jwk.kty === 'OKP' && jwk.crv === 'Ed25519'
        ? 'EdDSA'
        : jwk.kty === 'RSA'
          ? 'RS256'
          : jwk.kty === 'oct'
            ? 'HS256'
            : undefined)
  )
}

function isCryptoKey(key: unknown): key is CryptoKey {
  return typeof key === 'object' && key !== null && 'usages' in key && 'algorithm' in key
}

/**
 * A signing key and its alg: a `CryptoKey` as it is (its algorithm decides the alg), a JWK imported as a
 * non-extractable key. An explicit `alg` must agree with the key. Messages never show key material.
 *
 * @throws `TypeError` for a public key, a key that may not sign, an alg this library does not sign with, or an
 *   alg the key cannot have.
 */
export async function signingKey(
  key: CryptoKey | JsonWebKey,
  alg: JwsAlgorithm | undefined,
  what: string,
): Promise<{ key: CryptoKey; alg: JwsAlgorithm }> {
  // Duck-typed: a CryptoKey of another realm (a worker's, Node's webcrypto) is one too.
  if (isCryptoKey(key)) {
    const own = algorithmOf(key)
    if (own === undefined || (alg !== undefined && alg !== own)) {
      throw new TypeError(
        `${what}: a ${key.algorithm.name} key cannot sign ${alg ?? 'any of RS256, PS256, ES256, EdDSA, HS256'}: generate or import the key for the alg.`,
      )
    }
    if (key.type === 'public' || !key.usages.includes('sign')) {
      throw new TypeError(
        `${what}: the key is not allowed to sign (a public key, or usages without "sign"): pass the private key.`,
      )
    }
    return { key, alg: own }
  }
  if (typeof key !== 'object' || key === null || typeof key.kty !== 'string') {
    throw new TypeError(`${what} must be a CryptoKey or a private JWK (an object with "kty").`)
  }
  if (key.kty !== 'oct' && key.d === undefined) {
    throw new TypeError(`${what}: the JWK is a public key (no "d"): pass the private key.`)
  }
  const chosen = alg ?? jwkAlgorithm(key)
  const params = algorithms[chosen as JwsAlgorithm]
  if (params === undefined || (alg !== undefined && key.alg !== undefined && key.alg !== alg)) {
    throw new TypeError(
      `${what}: cannot sign ${chosen ?? `a ${key.kty} key`}${alg !== undefined && key.alg !== undefined ? ` with a JWK for ${key.alg}` : ''}: use RS256, PS256, ES256, EdDSA (or HS256 for a secret).`,
    )
  }
  try {
    // The JWK's own alg would have to match, and its public parts are of no use here.
    return {
      key: await subtle().importKey('jwk', key, params.key, false, ['sign']),
      alg: chosen as JwsAlgorithm,
    }
  } catch (err) {
    // Web Crypto's messages name the problem, never the key's value.
    throw new TypeError(`${what}: the JWK cannot be imported for ${chosen}: ${(err as Error).message}`, {
      cause: err,
    })
  }
}

const encoder = /* @__PURE__ */ new TextEncoder()

/** base64url of a JSON value's UTF-8 (RFC 7515 §2). */
function encodeJson(value: object): string {
  return base64UrlEncode(encoder.encode(JSON.stringify(value)))
}

/**
 * A compact JWS (RFC 7515 §7.1) of a JSON payload: `alg` is put in the header; Web Crypto's ECDSA signature is
 * already the `r || s` form JWS wants (RFC 7518 §3.4).
 */
export async function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: CryptoKey,
  alg: JwsAlgorithm,
): Promise<string> {
  const input = `${encodeJson({ alg, ...header })}.${encodeJson(payload)}`
  const signature = await subtle().sign(algorithms[alg].sign, key, encoder.encode(input))
  return `${input}.${base64UrlEncode(new Uint8Array(signature))}`
}

/** A random `jti` (RFC 7519 §4.1.7): 16 bytes, base64url. */
export function randomId(): string {
  return base64UrlEncode(crypto.getRandomValues(new Uint8Array(16)))
}

const pemFormat = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/

/**
 * Imports a PEM private key (PKCS#8, `-----BEGIN PRIVATE KEY-----`, as `openssl genpkey` writes it) as a
 * non-extractable signing `CryptoKey`, with Web Crypto only (no `node:crypto`): for a key file given to a CLI or
 * read from a secret store. Without `alg`, the key type decides: EC P-256 → ES256, Ed25519 → EdDSA, RSA → RS256.
 *
 * @param pem - The PEM text (only the first PEM block is read).
 * @param alg - The JWS alg to use the key for (PS256 for an RSA key used with RSASSA-PSS).
 * @returns A private key with usage `sign`, for `clientKey` or {@link createClientAssertion}.
 * @throws `TypeError` for anything but an unencrypted PKCS#8 key of a supported type; the message names the
 *   `openssl` conversion for PKCS#1 (`BEGIN RSA PRIVATE KEY`) and SEC1 (`BEGIN EC PRIVATE KEY`) files. The key
 *   is never echoed.
 *
 * @example
 * ```ts
 * const clientKey = await importPrivateKeyPem(await readFile('client-key.pem', 'utf8'))
 * await getToken(tokenEndpoint, clientAuthOptions('private_key_jwt', 'my-service', clientKey))
 * ```
 */
export async function importPrivateKeyPem(pem: string, alg?: JwsAlgorithm): Promise<CryptoKey> {
  const block = typeof pem === 'string' ? pemFormat.exec(pem) : null
  if (block?.[1] !== 'PRIVATE KEY') {
    throw new TypeError(
      `importPrivateKeyPem needs an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)${
        block
          ? `, not ${block[1]}: convert it with \`openssl pkcs8 -topk8 -nocrypt -in key.pem -out key8.pem\``
          : ''
      }.`,
    )
  }
  let der: Uint8Array<ArrayBuffer>
  try {
    der = Uint8Array.from(atob((block[2] ?? '').replace(/\s+/g, '')), (c) => c.charCodeAt(0))
  } catch {
    throw new TypeError('importPrivateKeyPem: the PEM body is not valid base64.')
  }
  let lastError: unknown
  // The key type is in the DER's AlgorithmIdentifier; trying each import reads it with less code than parsing.
  for (const candidate of alg === undefined ? (['ES256', 'EdDSA', 'RS256'] as const) : [alg]) {
    try {
      return await subtle().importKey('pkcs8', der, algorithms[candidate].key, false, ['sign'])
    } catch (err) {
      lastError = err
    }
  }
  throw new TypeError(
    `importPrivateKeyPem: the key is not a ${alg ?? 'P-256, Ed25519 or RSA'} PKCS#8 key this runtime can import: ${(lastError as Error).message}`,
    { cause: lastError },
  )
}
