/**
 * Property tests (fast-check) of what the keys issue signs: DPoP proofs (RFC 9449 §4.2) over arbitrary URLs
 * (queries, fragments, ports, IDNs, paths with escapes), methods, access tokens and clocks, and client assertions
 * (RFC 7523 §3) over arbitrary client ids, audiences, key ids, lifetimes and clocks: each is a valid compact JWS
 * that node:crypto verifies (tests/fixtures/dpop-verifier.ts, none of our code), with exactly the claims it must
 * have, and `htu` never carries a query or a fragment.
 */
import { generateKeyPairSync, type JsonWebKey as NodeJwk } from 'node:crypto'
import { expect, test } from '@playwright/test'
import fc from 'fast-check'
import { createClientAssertion, createDPoP, type DPoPHandle } from 'token-client'
import { verifyJws, verifyProof } from '../fixtures/dpop-verifier.ts'

/** Epoch milliseconds from 2001 to 2286: any clock a machine may have. */
const clock = fc.integer({ min: 1e12, max: 1e13 - 1 })
/** RFC 9110 §9.1 method tokens in any case, the usual ones often. */
const method = fc.oneof(
  fc.constantFrom('GET', 'post', 'Put', 'PATCH', 'patch', 'DELETE', 'head', 'OPTIONS'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}$/),
)

/** The method as fetch sends it (Fetch "normalize a method"): six are upper-cased, the rest kept as given. */
function sent(method: string): string {
  const upper = method.toUpperCase()
  return ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].includes(upper) ? upper : method
}
const url = fc.webUrl({ withQueryParameters: true, withFragments: true, validSchemes: ['https', 'http'] })
const accessToken = fc.option(fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }), { nil: undefined })

let handles: DPoPHandle[]
test.beforeAll(async () => {
  const ed = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  handles = [await createDPoP(), await createDPoP(ed)]
})

test('DPoP proofs: a valid JWS for any URL, method, token and clock; htu without query or fragment', async () => {
  await fc.assert(
    fc.asyncProperty(
      url,
      method,
      accessToken,
      clock,
      fc.boolean(),
      async (target, htm, token, now, useEd) => {
        const base = handles[useEd ? 1 : 0] as DPoPHandle
        const dpop = await createDPoP(base.keyPair, { now: () => now })
        const proof = await dpop.proof(htm, target, token)
        const { header, payload } = verifyProof(proof, {
          method: sent(htm),
          url: target,
          ...(token === undefined ? {} : { accessToken: token }),
          now: Math.floor(now / 1000),
          window: 0,
        })
        expect(header).toEqual({ alg: dpop.alg, typ: 'dpop+jwt', jwk: dpop.publicJwk })
        const htu = String(payload.htu)
        expect(htu).not.toMatch(/[?#]/)
        expect(new URL(htu).origin).toBe(new URL(target).origin)
        expect(Object.keys(payload).sort()).toEqual(
          token === undefined ? ['htm', 'htu', 'iat', 'jti'] : ['ath', 'htm', 'htu', 'iat', 'jti'],
        )
      },
    ),
    { numRuns: 300 },
  )
})

const keyPairs = {
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  EdDSA: generateKeyPairSync('ed25519'),
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
}

test('client assertions: a valid JWS with iss = sub = client id, aud, jti, iat, exp for any input and clock', async () => {
  const seen = new Set<string>()
  await fc.assert(
    fc.asyncProperty(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
      url,
      fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
      fc.integer({ min: 1, max: 3600 }),
      clock,
      fc.constantFrom('ES256', 'EdDSA', 'RS256'),
      async (clientId, audience, keyId, lifetime, now, alg) => {
        const pair = keyPairs[alg as keyof typeof keyPairs]
        const jwk = pair.privateKey.export({ format: 'jwk' }) as JsonWebKey
        const jwt = await createClientAssertion(clientId, audience, jwk, {
          lifetime,
          now: () => now,
          ...(keyId === undefined ? {} : { keyId }),
        })
        const { header, payload } = verifyJws(jwt, pair.publicKey.export({ format: 'jwk' }) as NodeJwk)
        expect(header).toEqual(keyId === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid: keyId })
        const iat = Math.floor(now / 1000)
        expect(payload).toEqual({
          iss: clientId,
          sub: clientId,
          aud: audience,
          jti: payload.jti,
          iat,
          exp: iat + lifetime,
        })
        expect(seen.has(String(payload.jti))).toBe(false)
        seen.add(String(payload.jti))
      },
    ),
    { numRuns: 150 },
  )
})
