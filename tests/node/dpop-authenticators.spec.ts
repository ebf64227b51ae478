/**
 * DPoP (RFC 9449) through the AUTHENTICATORS, against oidc-provider and the verifying resource server
 * (tests/fixtures/dpop-verifier.ts, node:crypto only):
 * - ClientCredentialsAuthenticator with private_key_jwt and `dpop`: token_type DPoP, `cnf.jkt` (the provider's
 *   store) = handle.jkt, the store keeps tokenType and the thumbprint; a nonce-demanding provider costs one retry;
 * - DeviceCodeAuthenticator with `dpop`: the polls carry proofs, the public client's bound refresh token is
 *   refreshed with the same key; a confidential device client authenticated by private_key_jwt
 *   (getDeviceCode with a client assertion);
 * - LoopbackAuthenticator with `dpop`: `dpop_jkt` in the authorization request, a bound exchange and refresh;
 * - authenticator.fetch: `Authorization: DPoP`, a proof per request that the verifier accepts (htm, htu without
 *   query, ath, fresh jti), the resource server's nonce challenge retried once (a stream body is not), another
 *   401 still invalidates and retries;
 * - a stored DPoP token set is not taken by an authenticator with another key;
 * - fileDPoP: a 0600 key file, the same key on the next run and for racing callers, a bad file named not shown.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  ClientCredentialsAuthenticator,
  clientAuthOptions,
  createDPoP,
  DeviceCodeAuthenticator,
  type DeviceCodeResponse,
  memoryStore,
} from 'token-client'
import { fileDPoP, LoopbackAuthenticator } from 'token-client/node'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { startDPoPResourceServer, thumbprint, verifyProof } from '../fixtures/dpop-verifier.ts'
import { failOnUnhandledRejections } from '../fixtures/hostile.ts'
import {
  authorizeInteractively,
  type OidcFixture,
  type StartOidcProviderOptions,
  startOidcProvider,
} from '../fixtures/oidc.ts'

failOnUnhandledRejections(test)
const closedAfterTest = closeAfterEach(test)

async function provider(opts?: StartOidcProviderOptions): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider(opts))
}

/** A P-256 client key, and its public JWK for the provider's client registration. */
async function clientKey(): Promise<{ privateKey: CryptoKey; publicJwk: JsonWebKey }> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  return { privateKey: pair.privateKey, publicJwk: await crypto.subtle.exportKey('jwk', pair.publicKey) }
}

function keyClient(clientId: string, publicJwk: JsonWebKey, grants: string[]): Record<string, unknown> {
  return {
    client_id: clientId,
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [publicJwk] },
    grant_types: grants,
    response_types: [],
    redirect_uris: [],
    scope: 'openid offline_access api:read',
  }
}

/** Approves each device code as it is shown. */
function approving(op: OidcFixture): (code: DeviceCodeResponse) => Promise<void> {
  return async (code) => {
    await op.approve(code.userCode)
  }
}

test('client credentials with private_key_jwt and DPoP; a nonce-demanding provider: one retry, then remembered', async () => {
  const key = await clientKey()
  const op = await provider({
    dpopNonce: 'required',
    extraClients: [keyClient('svc-key', key.publicJwk, ['client_credentials'])],
  })
  const dpop = await createDPoP()
  const store = memoryStore()
  const auth = new ClientCredentialsAuthenticator({
    tokenEndpoint: op.tokenEndpoint,
    clientId: 'svc-key',
    clientKey: key.privateKey,
    scopes: ['api:read'],
    store,
    dpop,
  })
  const token = await auth.getAccessToken()
  // RFC 9449 §8: the first proof had no nonce (400 use_dpop_nonce), the retry carried it.
  expect(op.tokenRequests()).toBe(2)
  expect((await op.provider.ClientCredentials.find(token))?.jkt).toBe(dpop.jkt)
  expect(await store.get()).toMatchObject({ accessToken: token, tokenType: 'DPoP', jkt: dpop.jkt })

  // The handle remembered the nonce: the next grant needs one request.
  await auth.invalidate()
  const again = await auth.getAccessToken()
  expect(again).not.toBe(token)
  expect(op.tokenRequests()).toBe(3)

  // The same store with another key: the bound token is not taken (RFC 9449 §6), a new one is obtained.
  const other = await createDPoP()
  const stranger = new ClientCredentialsAuthenticator({
    tokenEndpoint: op.tokenEndpoint,
    clientId: 'svc-key',
    clientKey: key.privateKey,
    scopes: ['api:read'],
    store,
    dpop: other,
  })
  const own = await stranger.getAccessToken()
  expect(own).not.toBe(again)
  expect((await op.provider.ClientCredentials.find(own))?.jkt).toBe(other.jkt)
})

test('a device flow bound to the key; the bound refresh token is refreshed with a proof by the same key', async () => {
  const op = await provider({ deviceInterval: 1, dpopNonce: 'offered' })
  const dpop = await createDPoP()
  const store = memoryStore()
  const auth = new DeviceCodeAuthenticator({
    issuer: op.issuer,
    clientId: op.deviceClient.clientId,
    scopes: ['openid', 'offline_access', 'api:read'],
    onDeviceCode: approving(op),
    store,
    dpop: Promise.resolve(dpop),
  })
  const token = await auth.getAccessToken()
  const first = await store.get()
  expect(first).toMatchObject({ tokenType: 'DPoP', jkt: dpop.jkt })
  expect((await op.provider.AccessToken.find(token))?.jkt).toBe(dpop.jkt)
  // RFC 9449 §5: the public client's refresh token is bound to the key: only a proof by it redeems it.
  expect((await op.provider.RefreshToken.find(first?.refreshToken ?? ''))?.jkt).toBe(dpop.jkt)

  const before = op.tokenRequests()
  await auth.invalidate()
  const refreshed = await auth.getAccessToken()
  expect(refreshed).not.toBe(token)
  expect(op.tokenRequests()).toBe(before + 1)
  expect((await op.provider.AccessToken.find(refreshed))?.jkt).toBe(dpop.jkt)
  // A sender-constrained refresh token need not rotate (RFC 9700 §4.14.2): oidc-provider keeps it, still bound.
  const second = await store.get()
  expect((await op.provider.RefreshToken.find(second?.refreshToken ?? ''))?.jkt).toBe(dpop.jkt)

  // A new authenticator (a restart) with the same key takes the stored set and refreshes it.
  const restarted = new DeviceCodeAuthenticator({
    issuer: op.issuer,
    clientId: op.deviceClient.clientId,
    scopes: ['openid', 'offline_access', 'api:read'],
    onDeviceCode: () => {
      throw new Error('no new device flow expected')
    },
    store,
    dpop,
  })
  await restarted.invalidate()
  expect(await restarted.getAccessToken()).toBe(refreshed)
  await restarted.invalidate()
  const third = await restarted.getAccessToken()
  expect((await op.provider.AccessToken.find(third))?.jkt).toBe(dpop.jkt)
})

test('a confidential device client authenticated by private_key_jwt (getDeviceCode with a client assertion)', async () => {
  const key = await clientKey()
  const op = await provider({
    deviceInterval: 1,
    extraClients: [
      keyClient('device-key', key.publicJwk, [
        'urn:ietf:params:oauth:grant-type:device_code',
        'refresh_token',
      ]),
    ],
  })
  const dpop = await createDPoP()
  const auth = new DeviceCodeAuthenticator({
    issuer: op.issuer,
    clientId: 'device-key',
    scopes: ['openid', 'api:read'],
    clientAuthentication: clientAuthOptions('private_key_jwt', 'device-key', key.privateKey),
    onDeviceCode: approving(op),
    dpop,
  })
  const token = await auth.getAccessToken()
  const stored = await op.provider.AccessToken.find(token)
  expect(stored?.clientId).toBe('device-key')
  expect(stored?.jkt).toBe(dpop.jkt)

  // Without the assertion the provider refuses the device authorization request itself.
  const unauthenticated = new DeviceCodeAuthenticator({
    issuer: op.issuer,
    clientId: 'device-key',
    scopes: ['openid'],
    onDeviceCode: () => {},
  })
  const err = await unauthenticated.getAccessToken().catch((e: unknown) => e)
  expect(err).toBeInstanceOf(AuthenticationError)
  expect((err as AuthenticationError).error).toBe('invalid_client')
})

test('LoopbackAuthenticator with DPoP: dpop_jkt binds the code (RFC 9449 §10), the exchange and its refresh carry proofs', async () => {
  const op = await provider({ dpopNonce: 'required' })
  const dpop = await createDPoP()
  let jktParam: string | null = null
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes: ['openid', 'offline_access', 'api:read'],
    prompt: 'consent',
    dpop,
    onAuthorizationUrl: async (url) => {
      jktParam = url.searchParams.get('dpop_jkt')
      // The browser's part: login, consent, then the redirect to the loopback listener.
      const callback = await authorizeInteractively(url)
      await fetch(callback)
    },
  })
  const token = await auth.getAccessToken()
  expect(jktParam).toBe(dpop.jkt)
  expect((await op.provider.AccessToken.find(token))?.jkt).toBe(dpop.jkt)
  await auth.invalidate()
  const refreshed = await auth.getAccessToken()
  expect(refreshed).not.toBe(token)
  expect((await op.provider.AccessToken.find(refreshed))?.jkt).toBe(dpop.jkt)
})

test('authenticator.fetch with a DPoP token: verified proofs, the nonce challenge answered once, jti never reused', async () => {
  const op = await provider()
  const dpop = await createDPoP()
  const auth = new ClientCredentialsAuthenticator({
    tokenEndpoint: op.tokenEndpoint,
    clientId: op.confidentialClient.clientId,
    clientSecret: op.confidentialClient.clientSecret,
    scopes: ['api:read'],
    dpop,
  })
  const rs = closedAfterTest(
    await startDPoPResourceServer({
      jktOf: async (accessToken) => (await op.provider.ClientCredentials.find(accessToken))?.jkt,
    }),
  )
  const res = await auth.fetch(`${rs.url}/items?page=2#top`)
  expect(res.status).toBe(200)
  expect(await res.json()).toEqual({ ok: true, path: '/items?page=2' })
  // RFC 9449 §9: the first request had no nonce (401 use_dpop_nonce), its one retry did.
  expect(rs.refusals()).toEqual(['use_dpop_nonce'])

  // A POST with a body: the nonce is known now, no challenge; the Request's own body is sent (from a clone).
  const posted = await auth.fetch(new Request(`${rs.url}/items`, { method: 'POST', body: 'payload' }))
  expect(posted.status).toBe(200)
  const put = await auth.fetch(`${rs.url}/items/1`, { method: 'put', body: JSON.stringify({ a: 1 }) })
  expect(put.status).toBe(200)
  expect(rs.refusals()).toEqual(['use_dpop_nonce'])
  expect(rs.accepted()).toBe(3)
  expect(op.tokenRequests()).toBe(1)

  // Every proof was by the handle's key, for its request; no jti twice (the verifier refuses a replay).
  const token = await auth.getAccessToken()
  const proofs = rs.proofs()
  expect(proofs).toHaveLength(4)
  const jtis = new Set<string>()
  const expected = [
    ['GET', `${rs.url}/items`],
    ['GET', `${rs.url}/items`],
    ['POST', `${rs.url}/items`],
    ['PUT', `${rs.url}/items/1`],
  ] as const
  proofs.forEach((proof, i) => {
    const [method, url] = expected[i] ?? ['', '']
    const { header, payload } = verifyProof(proof, { method, url, accessToken: token })
    expect(thumbprint(header.jwk as Record<string, unknown>)).toBe(dpop.jkt)
    jtis.add(String(payload.jti))
  })
  expect(jtis.size).toBe(4)
})

test('authenticator.fetch: a nonce challenge to a stream body is returned, not retried; another 401 gets a fresh token', async () => {
  const op = await provider()
  const dpop = await createDPoP()
  const make = () =>
    new ClientCredentialsAuthenticator({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.confidentialClient.clientId,
      clientSecret: op.confidentialClient.clientSecret,
      scopes: ['api:read'],
      dpop,
    })
  const rs = closedAfterTest(
    await startDPoPResourceServer({
      jktOf: async (accessToken) => (await op.provider.ClientCredentials.find(accessToken))?.jkt,
    }),
  )
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('streamed'))
      controller.close()
    },
  })
  const res = await make().fetch(`${rs.url}/upload`, {
    method: 'POST',
    body: stream,
    duplex: 'half',
  } as RequestInit)
  expect(res.status).toBe(401)
  expect(res.headers.get('www-authenticate')).toMatch(/use_dpop_nonce/)
  expect(rs.refusals()).toEqual(['use_dpop_nonce'])
  // The nonce was remembered from that answer: the next request (another authenticator, same key) goes through.
  const auth = make()
  expect((await auth.fetch(`${rs.url}/items`)).status).toBe(200)
  expect(rs.refusals()).toEqual(['use_dpop_nonce'])

  // A token the provider no longer knows: 401 invalid_token, then one retry with a fresh (bound) token.
  const revoked = await auth.getAccessToken()
  await (await op.provider.ClientCredentials.find(revoked))?.destroy()
  const retried = await auth.fetch(`${rs.url}/items`)
  expect(retried.status).toBe(200)
  expect(rs.refusals()).toEqual(['use_dpop_nonce', 'invalid_token'])
  const fresh = await auth.getAccessToken()
  expect(fresh).not.toBe(revoked)
  expect((await op.provider.ClientCredentials.find(fresh))?.jkt).toBe(dpop.jkt)
})

test('fileDPoP: a 0600 key file, the same key next time and for racing callers; a bad file is named, not shown', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dpop-key-'))
  try {
    const path = join(dir, 'nested', 'dpop-key.json')
    const [a, b] = await Promise.all([fileDPoP(path), fileDPoP(path)])
    expect(a.jkt).toBe(b.jkt)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700)
    const again = await fileDPoP(path)
    expect(again.jkt).toBe(a.jkt)
    expect(again.alg).toBe('ES256')
    // In memory the private key cannot be exported; the proofs verify with the key of the file.
    expect(again.keyPair.privateKey.extractable).toBe(false)
    const url = 'https://api.example/x'
    verifyProof(await again.proof('GET', url), { method: 'GET', url })
    const written = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    expect(Object.keys(written).sort()).toEqual(['crv', 'd', 'kty', 'x', 'y'])

    const bad = join(dir, 'bad.json')
    await writeFile(bad, '{"kty":"oct","k":"c2VjcmV0LWtleS1tYXRlcmlhbA"}', { mode: 0o600 })
    const err = await fileDPoP(bad).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TypeError)
    expect((err as Error).message).toContain(bad)
    expect((err as Error).message).not.toContain('c2VjcmV0')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
