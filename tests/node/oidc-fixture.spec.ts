import { createHash, randomBytes } from 'node:crypto'
import { test as base, expect } from '@playwright/test'
import {
  approveInteractively,
  authorizeInteractively,
  type OidcFixture,
  type StartOidcProviderOptions,
  startOidcProvider,
} from '../fixtures/oidc.ts'

/** Proves tests/fixtures/oidc.ts with raw fetch only (no library code). */

const test = base.extend<{ oidcOptions: StartOidcProviderOptions; oidc: OidcFixture }>({
  oidcOptions: [{}, { option: true }],
  oidc: async ({ oidcOptions }, use) => {
    const fixture = await startOidcProvider(oidcOptions)
    await use(fixture)
    await fixture.close()
  },
})

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/

/** application/x-www-form-urlencoded encoding of one value (Python quote_plus style: space as '+'). */
const formEncode = (value: string): string => new URLSearchParams([['', value]]).toString().slice(1)

const basicAuth = (id: string, secret: string, encode: (s: string) => string = formEncode): string =>
  `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`

type Json = Record<string, unknown>

async function postForm(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form),
  })
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json }
}

interface DeviceAuthorization {
  device_code: string
  user_code: string
  verification_uri: string
  verification_uri_complete: string
  expires_in: number
}

async function startDeviceFlow(
  oidc: OidcFixture,
  scope = 'openid offline_access api:read',
): Promise<DeviceAuthorization> {
  const { status, json } = await postForm(oidc.deviceAuthorizationEndpoint, {
    client_id: oidc.deviceClient.clientId,
    scope,
  })
  expect(status).toBe(200)
  return json as unknown as DeviceAuthorization
}

const poll = (oidc: OidcFixture, deviceCode: string) =>
  postForm(oidc.tokenEndpoint, {
    grant_type: DEVICE_GRANT,
    device_code: deviceCode,
    client_id: oidc.deviceClient.clientId,
  })

/** A raw RFC 7009 revocation POST (its success body is empty, not JSON). */
async function revoke(
  oidc: OidcFixture,
  token: string,
  headers: Record<string, string> = {},
  form: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(oidc.revocationEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token, ...form }),
  })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

/** A PKCE pair by hand (node:crypto; the library's own createPkce is tested elsewhere). */
function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

function authorizationUrl(
  oidc: OidcFixture,
  params: Record<string, string>,
  client: { clientId: string; redirectUris: string[] } = oidc.webClient,
): URL {
  const url = new URL(oidc.authorizationEndpoint)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUris[0] ?? '',
    scope: 'openid offline_access api:read',
    prompt: 'consent',
    state: 'st-123',
    ...params,
  }).toString()
  return url
}

test.describe('authorization code flow', () => {
  const redirectUri = 'http://127.0.0.1:8765/callback'
  test.use({ oidcOptions: { redirectUris: [redirectUri] } })

  test('discovery names the endpoints and RFC 9207 iss support', async ({ oidc }) => {
    const res = await fetch(`${oidc.issuer}/.well-known/openid-configuration`)
    const metadata = (await res.json()) as Json
    expect(metadata).toMatchObject({
      issuer: oidc.issuer,
      authorization_endpoint: oidc.authorizationEndpoint,
      revocation_endpoint: oidc.revocationEndpoint,
      end_session_endpoint: expect.any(String),
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    })
    expect(oidc.authorizationEndpoint).toBe(`${oidc.issuer}/auth`)
    expect(oidc.revocationEndpoint).toBe(`${oidc.issuer}/token/revocation`)
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code']))
    expect(oidc.webClient.redirectUris).toEqual([redirectUri])
  })

  test('code + PKCE, refresh with rotation, revoke, then the refresh token is dead', async ({ oidc }) => {
    const { verifier, challenge } = pkcePair()
    const callback = await authorizeInteractively(
      authorizationUrl(oidc, { code_challenge: challenge, code_challenge_method: 'S256' }),
      { accountId: 'alice' },
    )
    expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri)
    expect(callback.searchParams.get('state')).toBe('st-123')
    expect(callback.searchParams.get('iss')).toBe(oidc.issuer)
    const code = callback.searchParams.get('code') ?? ''
    expect(code).not.toBe('')

    const exchange = (codeVerifier: string) =>
      postForm(oidc.tokenEndpoint, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: codeVerifier,
        client_id: oidc.webClient.clientId,
      })
    const tokens = await exchange(verifier)
    expect(tokens.status).toBe(200)
    expect(tokens.json).toMatchObject({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      id_token: expect.any(String),
      token_type: 'Bearer',
      scope: 'openid offline_access api:read',
    })
    expect((await oidc.provider.AccessToken.find(String(tokens.json.access_token)))?.accountId).toBe('alice')

    const refresh = (refreshToken: unknown) =>
      postForm(oidc.tokenEndpoint, {
        grant_type: 'refresh_token',
        refresh_token: String(refreshToken),
        client_id: oidc.webClient.clientId,
      })
    const refreshed = await refresh(tokens.json.refresh_token)
    expect(refreshed.status).toBe(200)
    expect(refreshed.json.refresh_token).toEqual(expect.any(String))
    expect(refreshed.json.refresh_token).not.toBe(tokens.json.refresh_token)

    const revoked = await revoke(
      oidc,
      String(refreshed.json.refresh_token),
      {},
      {
        token_type_hint: 'refresh_token',
        client_id: oidc.webClient.clientId,
      },
    )
    expect(revoked).toMatchObject({ status: 200, text: '' })
    expect((await refresh(refreshed.json.refresh_token)).json.error).toBe('invalid_grant')
    // unknown tokens: 200 too (RFC 7009 §2.2)
    const unknown = await revoke(oidc, 'no-such-token', {}, { client_id: oidc.webClient.clientId })
    expect(unknown).toMatchObject({ status: 200, text: '' })
    // the code was single use (and reusing it revokes what it gave: RFC 6749 §4.1.2)
    expect((await exchange(verifier)).json.error).toBe('invalid_grant')
  })

  test('a public client revoking the token of another client gets 200 and the token lives on', async ({
    oidc,
  }) => {
    const { verifier, challenge } = pkcePair()
    const callback = await authorizeInteractively(
      authorizationUrl(oidc, { code_challenge: challenge, code_challenge_method: 'S256' }),
    )
    const tokens = await postForm(oidc.tokenEndpoint, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: oidc.webClient.clientId,
    })
    const refreshToken = String(tokens.json.refresh_token)
    const other = await revoke(oidc, refreshToken, {}, { client_id: oidc.deviceClient.clientId })
    expect(other).toMatchObject({ status: 200, text: '' })
    expect((await oidc.provider.RefreshToken.find(refreshToken))?.clientId).toBe(oidc.webClient.clientId)
    // a confidential client is told off
    const confidential = await revoke(oidc, refreshToken, {
      authorization: basicAuth(oidc.confidentialClient.clientId, oidc.confidentialClient.clientSecret),
    })
    expect(confidential.status).toBe(400)
    expect(JSON.parse(confidential.text).error).toBe('invalid_request')
    // without any client authentication: invalid_request
    const anonymous = await revoke(oidc, refreshToken)
    expect(anonymous.status).toBe(400)
    expect(JSON.parse(anonymous.text).error).toBe('invalid_request')
  })

  test('a wrong verifier is invalid_grant; no PKCE is refused at the authorization endpoint', async ({
    oidc,
  }) => {
    const { challenge } = pkcePair()
    const callback = await authorizeInteractively(
      authorizationUrl(oidc, { code_challenge: challenge, code_challenge_method: 'S256' }),
    )
    const wrong = await postForm(oidc.tokenEndpoint, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: redirectUri,
      code_verifier: pkcePair().verifier,
      client_id: oidc.webClient.clientId,
    })
    expect(wrong.status).toBe(400)
    expect(wrong.json.error).toBe('invalid_grant')

    const noPkce = await authorizeInteractively(authorizationUrl(oidc, {}))
    expect(noPkce.searchParams.get('error')).toBe('invalid_request')
    expect(noPkce.searchParams.get('state')).toBe('st-123')
    const plain = await authorizeInteractively(
      authorizationUrl(oidc, { code_challenge: challenge, code_challenge_method: 'plain' }),
    )
    expect(plain.searchParams.get('error')).toBe('invalid_request')
  })

  test('deny gives the access_denied callback with state and iss', async ({ oidc }) => {
    const callback = await authorizeInteractively(
      authorizationUrl(oidc, { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }),
      { deny: true },
    )
    expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri)
    expect(Object.fromEntries(callback.searchParams)).toMatchObject({
      error: 'access_denied',
      state: 'st-123',
      iss: oidc.issuer,
    })
    expect(callback.searchParams.has('code')).toBe(false)
  })

  test('the web client matches redirect URIs exactly, the native CLI client on any loopback port', async ({
    oidc,
  }) => {
    const { challenge } = pkcePair()
    const pkce = { code_challenge: challenge, code_challenge_method: 'S256' }
    await expect(
      authorizeInteractively(
        authorizationUrl(oidc, { ...pkce, redirect_uri: 'http://127.0.0.1:8766/callback' }),
      ),
    ).rejects.toThrow(/answered 400/)

    for (const port of [49152, 61234]) {
      const cliRedirect = `http://127.0.0.1:${port}/callback`
      const callback = await authorizeInteractively(
        authorizationUrl(oidc, { ...pkce, redirect_uri: cliRedirect }, oidc.cliClient),
      )
      expect(`${callback.origin}${callback.pathname}`).toBe(cliRedirect)
      expect(callback.searchParams.get('code')).toEqual(expect.any(String))
    }
    expect(oidc.cliClient.redirectUris).toContain('http://127.0.0.1/callback')
    // a path not registered is refused even for the native client
    await expect(
      authorizeInteractively(
        authorizationUrl(oidc, { ...pkce, redirect_uri: 'http://127.0.0.1:4000/other' }, oidc.cliClient),
      ),
    ).rejects.toThrow(/answered 400/)
  })
})

test.describe('client credentials', () => {
  test('the odd secret, form-urlencoded in the Basic header, gets an opaque token', async ({ oidc }) => {
    const { clientId, clientSecret } = oidc.confidentialClient
    expect(clientSecret).toBe('s3cr3t:with/odd?chars&+ %')
    expect(oidc.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(oidc.tokenEndpoint).toBe(`${oidc.issuer}/token`)

    const scoped = await postForm(
      oidc.tokenEndpoint,
      { grant_type: 'client_credentials', scope: 'api:read' },
      { authorization: basicAuth(clientId, clientSecret) },
    )
    expect(scoped.status).toBe(200)
    expect(scoped.json).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'api:read',
    })
    expect(String(scoped.json.access_token).split('.')).toHaveLength(1) // opaque, not a JWT
    expect(scoped.headers.get('cache-control')).toBe('no-store')

    // no scope: still a token, without a `scope` member
    const unscoped = await postForm(
      oidc.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(clientId, clientSecret) },
    )
    expect(unscoped.status).toBe(200)
    expect(unscoped.json.access_token).toEqual(expect.any(String))
    expect(unscoped.json).not.toHaveProperty('scope')

    // %20 for the space (encodeURIComponent style) is accepted as well
    const percent = await postForm(
      oidc.tokenEndpoint,
      { grant_type: 'client_credentials', scope: 'api:read' },
      { authorization: basicAuth(clientId, clientSecret, encodeURIComponent) },
    )
    expect(percent.status).toBe(200)

    // client_secret_post is accepted too (oidc-provider does not enforce the registered method)
    const post = await postForm(oidc.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    })
    expect(post.status).toBe(200)
  })

  test('audience is ignored, the raw secret and a wrong secret are rejected', async ({ oidc }) => {
    const { clientId, clientSecret } = oidc.confidentialClient
    const audience = await postForm(
      oidc.tokenEndpoint,
      { grant_type: 'client_credentials', scope: 'api:read', audience: 'https://api.example.com' },
      { authorization: basicAuth(clientId, clientSecret) },
    )
    expect(audience.status).toBe(200)
    expect(audience.json.scope).toBe('api:read')

    const unknownScope = await postForm(
      oidc.tokenEndpoint,
      { grant_type: 'client_credentials', scope: 'api:write' },
      { authorization: basicAuth(clientId, clientSecret) },
    )
    expect(unknownScope.status).toBe(200)
    expect(unknownScope.json).not.toHaveProperty('scope')

    const raw = await postForm(
      oidc.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(clientId, clientSecret, (s) => s) },
    )
    expect(raw.status).toBe(400)
    expect(raw.json.error).toBe('invalid_request')

    const wrong = await postForm(
      oidc.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(clientId, 'nope') },
    )
    expect(wrong.status).toBe(401)
    expect(wrong.json.error).toBe('invalid_client')
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /)
  })
})

test.describe('device flow', () => {
  test('pending, approve, tokens, refresh', async ({ oidc }) => {
    const auth = await startDeviceFlow(oidc)
    expect(auth.user_code).toMatch(USER_CODE)
    expect(auth.verification_uri).toBe(`${oidc.issuer}/device`)
    expect(auth.verification_uri_complete).toBe(`${oidc.issuer}/device?user_code=${auth.user_code}`)
    expect(auth.expires_in).toBe(600)
    expect(auth).not.toHaveProperty('interval')

    const pending = await poll(oidc, auth.device_code)
    expect(pending.status).toBe(400)
    expect(pending.json.error).toBe('authorization_pending')

    // the store keeps the code normalised: lower case and no dash are fine
    await oidc.approve(auth.user_code.toLowerCase().replace('-', ''))
    const tokens = await poll(oidc, auth.device_code)
    expect(tokens.status).toBe(200)
    expect(tokens.json).toMatchObject({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      id_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'openid offline_access api:read',
    })
    const at = await oidc.provider.AccessToken.find(String(tokens.json.access_token))
    expect(at?.accountId).toBe('user-1')

    const refreshed = await postForm(oidc.tokenEndpoint, {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.json.refresh_token),
      client_id: oidc.deviceClient.clientId,
    })
    expect(refreshed.status).toBe(200)
    expect(refreshed.json.access_token).toEqual(expect.any(String))
    expect(refreshed.json.access_token).not.toBe(tokens.json.access_token)
    // public client: the refresh token is rotated
    expect(refreshed.json.refresh_token).toEqual(expect.any(String))
    expect(refreshed.json.refresh_token).not.toBe(tokens.json.refresh_token)

    // polling again after redemption: invalid_grant
    const again = await poll(oidc, auth.device_code)
    expect(again.status).toBe(400)
    expect(again.json.error).toBe('invalid_grant')
  })

  test('approve without offline_access gives no refresh token', async ({ oidc }) => {
    const auth = await startDeviceFlow(oidc)
    await oidc.approve(auth.user_code, { accountId: 'bob', scopes: ['openid', 'api:read'] })
    const tokens = await poll(oidc, auth.device_code)
    expect(tokens.status).toBe(200)
    expect(tokens.json.scope).toBe('openid api:read')
    expect(tokens.json).not.toHaveProperty('refresh_token')
  })

  test('deny gives access_denied', async ({ oidc }) => {
    const auth = await startDeviceFlow(oidc)
    await oidc.deny(auth.user_code)
    const denied = await poll(oidc, auth.device_code)
    expect(denied.status).toBe(400)
    expect(denied.json.error).toBe('access_denied')
    await expect(oidc.approve(auth.user_code)).rejects.toThrow(/not pending/)
  })

  test('unknown device code gives invalid_grant', async ({ oidc }) => {
    const unknown = await poll(oidc, 'no-such-device-code')
    expect(unknown.status).toBe(400)
    expect(unknown.json.error).toBe('invalid_grant')
    await expect(oidc.approve('BCDF-GHJK')).rejects.toThrow(/no device code/)
  })

  test.describe('short-lived codes', () => {
    test.use({ oidcOptions: { deviceCodeTtl: 1, deviceInterval: 1, accessTokenTtl: 30 } })

    test('expired device code gives expired_token; interval and ttl options apply', async ({ oidc }) => {
      const auth = await startDeviceFlow(oidc)
      expect(auth.expires_in).toBe(1)
      expect(auth).toHaveProperty('interval', 1)
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const expired = await poll(oidc, auth.device_code)
      expect(expired.status).toBe(400)
      expect(expired.json.error).toBe('expired_token')

      const cc = await postForm(
        oidc.tokenEndpoint,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(oidc.confidentialClient.clientId, oidc.confidentialClient.clientSecret) },
      )
      expect(cc.json.expires_in).toBe(30)
    })
  })

  test('approveInteractively walks the provider pages (input, confirm, login, consent)', async ({ oidc }) => {
    const auth = await startDeviceFlow(oidc)
    await approveInteractively(auth.verification_uri, auth.user_code, { login: 'alice' })
    const tokens = await poll(oidc, auth.device_code)
    expect(tokens.status).toBe(200)
    expect(tokens.json.refresh_token).toEqual(expect.any(String))
    expect(tokens.json.scope).toBe('openid offline_access api:read')
    const at = await oidc.provider.AccessToken.find(String(tokens.json.access_token))
    expect(at?.accountId).toBe('alice')

    // verification_uri_complete (the code pre-filled, auto-submitted) works too
    const second = await startDeviceFlow(oidc, 'openid api:read')
    await approveInteractively(second.verification_uri_complete, second.user_code)
    const more = await poll(oidc, second.device_code)
    expect(more.status).toBe(200)
    expect(more.json.scope).toBe('openid api:read')
  })

  test('the verification page has the documented form', async ({ oidc }) => {
    const res = await fetch(`${oidc.issuer}/device`)
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('id="op.deviceInputForm"')
    expect(html).toContain('name="user_code"')
    expect(html).toContain('<button type="submit" form="op.deviceInputForm">Continue</button>')
    expect(html).not.toContain('googleapis')
    // over http the session cookie is not Secure
    const cookies = res.headers.getSetCookie()
    expect(cookies.some((c) => c.startsWith('_session='))).toBe(true)
    expect(cookies.some((c) => /;\s*secure/i.test(c))).toBe(false)
  })
})

test.describe('CORS', () => {
  const allowed = 'http://127.0.0.1:5173'
  test.use({ oidcOptions: { corsOrigins: [allowed] } })

  test('preflight and actual requests from an allowed origin', async ({ oidc }) => {
    for (const endpoint of [oidc.tokenEndpoint, oidc.deviceAuthorizationEndpoint, oidc.revocationEndpoint]) {
      const preflight = await fetch(endpoint, {
        method: 'OPTIONS',
        headers: {
          origin: allowed,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'accept,authorization,cache-control,content-type',
        },
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-origin')).toBe(allowed)
      expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
      const allowHeaders = (preflight.headers.get('access-control-allow-headers') ?? '')
        .toLowerCase()
        .split(',')
      expect(allowHeaders).toEqual(expect.arrayContaining(['cache-control', 'authorization']))
    }

    const headers = { origin: allowed, 'cache-control': 'no-cache' }
    const device = await postForm(
      oidc.deviceAuthorizationEndpoint,
      { client_id: oidc.deviceClient.clientId, scope: 'openid offline_access api:read' },
      headers,
    )
    expect(device.status).toBe(200)
    expect(device.headers.get('access-control-allow-origin')).toBe(allowed)

    // error responses carry the CORS headers too, so a browser can read authorization_pending
    const pending = await postForm(
      oidc.tokenEndpoint,
      {
        grant_type: DEVICE_GRANT,
        device_code: String(device.json.device_code),
        client_id: oidc.deviceClient.clientId,
      },
      headers,
    )
    expect(pending.json.error).toBe('authorization_pending')
    expect(pending.headers.get('access-control-allow-origin')).toBe(allowed)

    const cc = await postForm(
      oidc.tokenEndpoint,
      { grant_type: 'client_credentials', scope: 'api:read' },
      {
        ...headers,
        authorization: basicAuth(oidc.confidentialClient.clientId, oidc.confidentialClient.clientSecret),
      },
    )
    expect(cc.status).toBe(200)
    expect(cc.headers.get('access-control-allow-origin')).toBe(allowed)

    const revoked = await revoke(oidc, String(cc.json.access_token), {
      ...headers,
      authorization: basicAuth(oidc.confidentialClient.clientId, oidc.confidentialClient.clientSecret),
    })
    expect(revoked.status).toBe(200)
    expect(revoked.headers.get('access-control-allow-origin')).toBe(allowed)
  })

  test('a disallowed origin is refused on the actual request', async ({ oidc }) => {
    const refused = await postForm(
      oidc.deviceAuthorizationEndpoint,
      { client_id: oidc.deviceClient.clientId, scope: 'openid' },
      { origin: 'http://127.0.0.1:1' },
    )
    expect(refused.status).toBe(400)
    expect(refused.json.error).toBe('invalid_request')
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()

    const revocation = await revoke(
      oidc,
      'some-token',
      { origin: 'http://127.0.0.1:1' },
      { client_id: oidc.webClient.clientId },
    )
    expect(revocation.status).toBe(400)
    expect(JSON.parse(revocation.text).error).toBe('invalid_request')
    expect(revocation.headers.get('access-control-allow-origin')).toBeNull()
  })
})

test('tokenRequests() counts POSTs to the token endpoint, not preflights or other endpoints', async ({
  oidc,
}) => {
  expect(oidc.tokenRequests()).toBe(0)
  const auth = await startDeviceFlow(oidc)
  expect(oidc.tokenRequests()).toBe(0)
  await poll(oidc, auth.device_code)
  await poll(oidc, auth.device_code)
  await fetch(oidc.tokenEndpoint, {
    method: 'OPTIONS',
    headers: { origin: 'http://127.0.0.1:5173', 'access-control-request-method': 'POST' },
  })
  expect(oidc.tokenRequests()).toBe(2)
  await oidc.approve(auth.user_code)
  const tokens = await poll(oidc, auth.device_code)
  expect(tokens.status).toBe(200)
  expect(oidc.tokenRequests()).toBe(3)
})
