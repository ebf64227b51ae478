/**
 * DPoP (RFC 9449) at the protocol level, against oidc-provider (DPoP on, with and without nonces): a
 * client-credentials token bound to the key (`cnf.jkt` in the provider's store equals the handle's thumbprint), a
 * device flow bound to the key, a public client's bound refresh token refreshed with a proof by the same key (and
 * refused with another key), a nonce-demanding provider (one retry, then the nonce is remembered); a server that
 * keeps demanding a nonce (retried once only); and a resource server stand-in (tests/fixtures/dpop-verifier.ts,
 * node:crypto) that verifies every proof (signature with the header's jwk, htm, htu, ath, jti, iat, nonce).
 */
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  clientAuthOptions,
  createDPoP,
  type DPoPHandle,
  GrantType,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  pollTokenEndpoint,
} from 'token-client'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { startDPoPResourceServer, thumbprint, verifyProof } from '../fixtures/dpop-verifier.ts'
import { authError, failOnUnhandledRejections } from '../fixtures/hostile.ts'
import { type OidcFixture, type StartOidcProviderOptions, startOidcProvider } from '../fixtures/oidc.ts'
import { json, startScriptedServer } from '../fixtures/scripted-server.ts'

failOnUnhandledRejections(test)
const closedAfterTest = closeAfterEach(test)

async function provider(opts?: StartOidcProviderOptions): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider(opts))
}

function basic(op: OidcFixture): string {
  return getBasicAuthorizationHeader(op.confidentialClient.clientId, op.confidentialClient.clientSecret)
}

test.describe('the DPoP handle', () => {
  test('a generated ES256 key: non-extractable, thumbprint as RFC 7638 computes it, proofs without query', async () => {
    const dpop = await createDPoP()
    expect(dpop.alg).toBe('ES256')
    expect(dpop.keyPair.privateKey.extractable).toBe(false)
    expect(Object.keys(dpop.publicJwk)).toEqual(['crv', 'kty', 'x', 'y'])
    expect(dpop.jkt).toBe(thumbprint(dpop.publicJwk as Record<string, unknown>))
    const url = 'https://api.example/items?page=2#top'
    const proof = await dpop.proof('get', url, 'an-access-token')
    const { header, payload } = verifyProof(proof, { method: 'GET', url, accessToken: 'an-access-token' })
    expect(header).toEqual({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpop.publicJwk })
    expect(payload.htu).toBe('https://api.example/items')
    expect(payload.nonce).toBeUndefined()
    // Nonces per origin: the authorization server's and a resource server's are kept apart (§8, §9).
    dpop.setNonce('https://idp.example/token', 'as-nonce')
    dpop.setNonce('https://api.example', 'rs-nonce')
    expect(dpop.nonce('https://idp.example/other')).toBe('as-nonce')
    const withNonce = await dpop.proof('POST', 'https://api.example/x')
    expect(
      verifyProof(withNonce, { method: 'POST', url: 'https://api.example/x', nonce: 'rs-nonce' }),
    ).toBeTruthy()
  })

  test('a given Ed25519 or RSA pair signs EdDSA / PS256 proofs; a symmetric or missing key is a TypeError', async () => {
    const ed = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
    const edHandle = await createDPoP(ed)
    expect(edHandle.alg).toBe('EdDSA')
    verifyProof(await edHandle.proof('GET', 'https://a.example/'), {
      method: 'GET',
      url: 'https://a.example/',
    })
    const rsa = (await crypto.subtle.generateKey(
      { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    )) as CryptoKeyPair
    const rsaHandle = await createDPoP(rsa)
    expect(rsaHandle.alg).toBe('PS256')
    expect(Object.keys(rsaHandle.publicJwk)).toEqual(['e', 'kty', 'n'])
    verifyProof(await rsaHandle.proof('GET', 'https://a.example/'), {
      method: 'GET',
      url: 'https://a.example/',
    })
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    await expect(createDPoP({ privateKey: hmac, publicKey: hmac })).rejects.toThrow(TypeError)
    await expect(createDPoP({} as CryptoKeyPair)).rejects.toThrow(/asymmetric key pair/)
  })
})

test.describe('DPoP against oidc-provider', () => {
  test('client credentials bound to the key: token_type DPoP, cnf.jkt = the thumbprint; resource requests verified', async () => {
    const op = await provider()
    const dpop = await createDPoP()
    const token = await getToken(op.tokenEndpoint, {
      authorizationHeader: basic(op),
      scopes: ['api:read'],
      dpop,
    })
    expect(token.tokenType).toBe('DPoP')
    const stored = await op.provider.ClientCredentials.find(token.accessToken)
    expect(stored?.jkt).toBe(dpop.jkt)
    expect(op.tokenRequests()).toBe(1)

    // The resource server demands its own nonce once (§9); withProof retries once with it, then it is remembered.
    const rs = closedAfterTest(
      await startDPoPResourceServer({
        jktOf: async (accessToken) => (await op.provider.ClientCredentials.find(accessToken))?.jkt,
      }),
    )
    const call = (path: string, method = 'GET'): Promise<Response> => {
      const url = `${rs.url}${path}`
      return dpop.withProof(
        method,
        url,
        (proof) =>
          fetch(url, { method, headers: { authorization: `DPoP ${token.accessToken}`, dpop: proof } }),
        token.accessToken,
      )
    }
    const first = await call('/items?page=1')
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ ok: true, path: '/items?page=1' })
    expect(rs.refusals()).toEqual(['use_dpop_nonce'])
    const second = await call('/items', 'POST')
    expect(second.status).toBe(200)
    expect(rs.refusals()).toEqual(['use_dpop_nonce'])
    expect(rs.accepted()).toBe(2)
    // The authorization server's nonce memory is separate (it sent none).
    expect(dpop.nonce(op.tokenEndpoint)).toBeUndefined()
    expect(dpop.nonce(rs.url)).toEqual(expect.any(String))

    // A proof by another key for this token: refused by the resource server (not bound to it).
    const other = await createDPoP()
    const url = `${rs.url}/items`
    other.setNonce(url, dpop.nonce(url) ?? '')
    const stolen = await fetch(url, {
      headers: {
        authorization: `DPoP ${token.accessToken}`,
        dpop: await other.proof('GET', url, token.accessToken),
      },
    })
    expect(stolen.status).toBe(401)
    expect(rs.refusals().at(-1)).toBe('invalid_token')
  })

  test('a device flow bound to the key; the public client refreshes its bound refresh token with the same key only', async () => {
    const op = await provider({ deviceInterval: 1 })
    const dpop = await createDPoP()
    const { clientId } = op.deviceClient
    const device = await getDeviceCode(op.deviceAuthorizationEndpoint, clientId, {
      scope: ['openid', 'offline_access', 'api:read'],
    })
    await op.approve(device.userCode)
    const tokens = await pollTokenEndpoint(device, op.tokenEndpoint, clientId, { dpop })
    expect(tokens.tokenType).toBe('DPoP')
    expect((await op.provider.AccessToken.find(tokens.accessToken))?.jkt).toBe(dpop.jkt)
    // RFC 9449 §5: a public client's refresh token is bound to the key too.
    expect((await op.provider.RefreshToken.find(tokens.refreshToken ?? ''))?.jkt).toBe(dpop.jkt)

    const refreshWith = (handle: DPoPHandle | undefined, refreshToken: string) =>
      getToken(op.tokenEndpoint, {
        grantType: GrantType.REFRESH_TOKEN,
        refreshToken,
        clientId,
        ...(handle === undefined ? {} : { dpop: handle }),
      })
    const stranger = await authError(refreshWith(await createDPoP(), tokens.refreshToken ?? ''))
    expect(stranger.error).toBe('invalid_grant')
    const without = await authError(refreshWith(undefined, tokens.refreshToken ?? ''))
    expect(without.error).toBe('invalid_grant')
    const refreshed = await refreshWith(dpop, tokens.refreshToken ?? '')
    expect(refreshed.tokenType).toBe('DPoP')
    expect((await op.provider.AccessToken.find(refreshed.accessToken))?.jkt).toBe(dpop.jkt)
    for (const err of [stranger, without]) {
      expect(JSON.stringify(err) + err.message).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/)
      expect(err.message).not.toContain(tokens.refreshToken ?? '')
    }
  })

  test('a provider that requires nonces: use_dpop_nonce answered once, retried with the nonce, then remembered', async () => {
    const op = await provider({ dpopNonce: 'required' })
    const dpop = await createDPoP()
    const token = await getToken(op.tokenEndpoint, {
      authorizationHeader: basic(op),
      scopes: ['api:read'],
      dpop,
    })
    expect(token.tokenType).toBe('DPoP')
    expect(op.tokenRequests()).toBe(2)
    expect(dpop.nonce(op.tokenEndpoint)).toEqual(expect.any(String))
    expect((await op.provider.ClientCredentials.find(token.accessToken))?.jkt).toBe(dpop.jkt)
    // The nonce remembered from the answers: the next request needs no retry.
    await getToken(op.tokenEndpoint, { authorizationHeader: basic(op), scopes: ['api:read'], dpop })
    expect(op.tokenRequests()).toBe(3)
  })

  test('nonce retry with private_key_jwt: the retry carries a fresh assertion (a replayed jti would be refused)', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
    const publicJwk = await crypto.subtle.exportKey('jwk', pair.publicKey)
    const op = await provider({
      dpopNonce: 'required',
      extraClients: [
        {
          client_id: 'svc-key',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [publicJwk] },
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          scope: 'api:read',
        },
      ],
    })
    const dpop = await createDPoP()
    const token = await getToken(op.tokenEndpoint, {
      ...clientAuthOptions('private_key_jwt', 'svc-key', pair.privateKey),
      scopes: ['api:read'],
      dpop,
    })
    expect(op.tokenRequests()).toBe(2)
    expect((await op.provider.ClientCredentials.find(token.accessToken))?.jkt).toBe(dpop.jkt)
  })

  test('a provider that offers nonces: the DPoP-Nonce of a successful answer is remembered', async () => {
    const op = await provider({ dpopNonce: 'offered' })
    const dpop = await createDPoP()
    await getToken(op.tokenEndpoint, { authorizationHeader: basic(op), dpop })
    expect(op.tokenRequests()).toBe(1)
    expect(dpop.nonce(op.tokenEndpoint)).toEqual(expect.any(String))
  })
})

test('a server that keeps demanding a new nonce: retried exactly once, then the use_dpop_nonce error', async () => {
  let n = 0
  const server = closedAfterTest(
    await startScriptedServer({
      '/token': (_req, res) =>
        json(
          res,
          400,
          { error: 'use_dpop_nonce', error_description: 'nonce please' },
          { 'dpop-nonce': `n${++n}` },
        ),
    }),
  )
  const dpop = await createDPoP()
  const err = await authError(getToken(`${server.url}/token`, { clientId: 'c', dpop }))
  expect(err).toBeInstanceOf(AuthenticationError)
  expect(err.error).toBe('use_dpop_nonce')
  const requests = server.requests('/token')
  expect(requests).toHaveLength(2)
  const url = `${server.url}/token`
  expect(
    verifyProof(String(requests[0]?.headers.dpop), { method: 'POST', url }).payload.nonce,
  ).toBeUndefined()
  expect(verifyProof(String(requests[1]?.headers.dpop), { method: 'POST', url, nonce: 'n1' })).toBeTruthy()
  expect(dpop.nonce(url)).toBe('n2')
  // A use_dpop_nonce without a new nonce is not retried at all.
  const stale = closedAfterTest(
    await startScriptedServer({ '/token': (_req, res) => json(res, 400, { error: 'use_dpop_nonce' }) }),
  )
  await authError(getToken(`${stale.url}/token`, { clientId: 'c', dpop }))
  expect(stale.requests('/token')).toHaveLength(1)
})
