/**
 * Signing per request (part 7 of `npm run bench`, issue "Keys instead of shared secrets"): what a DPoP proof
 * (RFC 9449 §4.2) and a private_key_jwt client assertion (RFC 7523 §2.2) cost each request, ES256 on Web Crypto,
 * the key a non-extractable CryptoKey. Each operation is timed alone, sequentially, after a warm-up; the
 * table shows the median and the 95th percentile per operation.
 *
 * - a token-endpoint proof (`htm`, `htu`, `iat`, `jti`; no `ath`);
 * - a resource-request proof (with `ath`: one more SHA-256);
 * - `createClientAssertion` with a CryptoKey;
 * - the `clientAssertion` function `clientAuthOptions('private_key_jwt', …)` returns (what getToken calls), from a
 *   JWK imported once on first use.
 */
import { generateKeyPairSync } from 'node:crypto'
import { clientAuthOptions, createClientAssertion, createDPoP } from 'token-client'

export interface SigningRow {
  operation: string
  medianMs: number
  p95Ms: number
}

async function time(
  count: number,
  warmup: number,
  op: () => Promise<unknown>,
): Promise<{ median: number; p95: number }> {
  for (let i = 0; i < warmup; i++) await op()
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    const start = performance.now()
    await op()
    samples.push(performance.now() - start)
  }
  samples.sort((a, b) => a - b)
  return {
    median: samples[Math.floor(samples.length / 2)] ?? Number.NaN,
    p95: samples[Math.floor(samples.length * 0.95)] ?? Number.NaN,
  }
}

export async function signingBench(count: number): Promise<SigningRow[]> {
  const warmup = Math.max(20, Math.floor(count / 10))
  const dpop = await createDPoP()
  const { privateKey } = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'jwk',
  }) as JsonWebKey
  const tokenEndpoint = new URL('https://idp.example/oauth2/token')
  const factory = clientAuthOptions('private_key_jwt', 'bench-client', jwk, { keyId: 'k1' }).clientAssertion
  if (typeof factory !== 'function') throw new Error('clientAuthOptions gave no assertion function')
  const accessToken = 'a'.repeat(43)
  const rows: [string, () => Promise<unknown>][] = [
    ['DPoP proof, token request (ES256)', () => dpop.proof('POST', tokenEndpoint)],
    [
      'DPoP proof, resource request with ath (ES256)',
      () => dpop.proof('GET', 'https://api.example/items?page=2', accessToken),
    ],
    [
      'createClientAssertion (ES256 CryptoKey)',
      () => createClientAssertion('bench-client', tokenEndpoint, privateKey),
    ],
    ["clientAuthOptions('private_key_jwt', JWK).clientAssertion(url)", async () => factory(tokenEndpoint)],
  ]
  const out: SigningRow[] = []
  for (const [operation, op] of rows) {
    const { median, p95 } = await time(count, warmup, op)
    out.push({ operation, medianMs: median, p95Ms: p95 })
  }
  return out
}
