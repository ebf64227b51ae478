import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  DeviceCodeAuthenticator,
  type DeviceCodeResponse,
  discover,
  GrantType,
  getDeviceCode,
  getToken,
  memoryStore,
  pollTokenEndpoint,
} from 'token-client'
import {
  type BetterAuthFixture,
  type StartBetterAuthOptions,
  startBetterAuth,
} from '../fixtures/better-auth.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'

/**
 * Proves tests/fixtures/better-auth.ts (better-auth + @better-auth/oauth-provider) with plain fetch, then runs
 * the library's discovery, refresh and device flow functions against it.
 */

const closedAfterTest = closeAfterEach(test)

async function betterAuth(opts?: StartBetterAuthOptions): Promise<BetterAuthFixture> {
  return closedAfterTest(await startBetterAuth(opts))
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

type Json = Record<string, unknown>

async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; json: Json }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
  })
  const text = await res.text()
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} }
}

interface Pkce {
  verifier: string
  challenge: string
}

function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** The port of a redirect URI as a native app's loopback listener would pick it (any port matches). */
const LOOPBACK_REDIRECT = 'http://127.0.0.1:49152/callback'

function authorizationUrl(
  ba: BetterAuthFixture,
  { challenge }: Pkce,
  params: Record<string, string> = {},
): URL {
  const url = new URL(ba.authorizationEndpoint)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: ba.publicClient.clientId,
    redirect_uri: LOOPBACK_REDIRECT,
    scope: 'openid offline_access',
    state: randomBytes(8).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...params,
  }).toString()
  return url
}

/** Authorization code + PKCE, the person approving: the token response. */
async function signIn(ba: BetterAuthFixture, scope = 'openid offline_access'): Promise<Json> {
  const codes = pkce()
  const callback = await ba.authorize(authorizationUrl(ba, codes, { scope }))
  const { status, json } = await postForm(ba.tokenEndpoint, {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code') ?? '',
    redirect_uri: LOOPBACK_REDIRECT,
    client_id: ba.publicClient.clientId,
    code_verifier: codes.verifier,
  })
  expect(status).toBe(200)
  return json
}

async function userinfo(
  ba: BetterAuthFixture,
  accessToken: unknown,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(ba.userinfoEndpoint, {
    headers: { authorization: `Bearer ${String(accessToken)}` },
  })
  return { status: res.status, json: (await res.json()) as Json }
}

const refresh = (ba: BetterAuthFixture, refreshToken: unknown) =>
  postForm(ba.tokenEndpoint, {
    grant_type: 'refresh_token',
    refresh_token: String(refreshToken),
    client_id: ba.publicClient.clientId,
  })

async function rejection(promise: Promise<unknown>): Promise<AuthenticationError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof AuthenticationError) return err
    throw err
  }
  throw new Error('expected an AuthenticationError')
}

test.describe('discovery', () => {
  test('RFC 8414 metadata under the issuer path, OpenID configuration too; nothing at the root', async () => {
    const ba = await betterAuth()
    const { origin, pathname } = new URL(ba.issuer)
    expect(ba.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/auth$/)
    expect(pathname).toBe('/api/auth')

    for (const path of [
      `/.well-known/oauth-authorization-server${pathname}`,
      `${pathname}/.well-known/openid-configuration`,
      `${pathname}/.well-known/oauth-authorization-server`,
    ]) {
      const res = await fetch(`${origin}${path}`)
      expect(res.status, path).toBe(200)
      const metadata = (await res.json()) as Json
      expect(metadata).toMatchObject({
        issuer: ba.issuer,
        authorization_endpoint: ba.authorizationEndpoint,
        token_endpoint: ba.tokenEndpoint,
        revocation_endpoint: ba.revocationEndpoint,
        device_authorization_endpoint: ba.deviceAuthorizationEndpoint,
        userinfo_endpoint: ba.userinfoEndpoint,
        introspection_endpoint: ba.introspectionEndpoint,
        code_challenge_methods_supported: ['S256'],
        response_types_supported: ['code'],
        authorization_response_iss_parameter_supported: true,
      })
      expect(metadata.grant_types_supported).toEqual(
        expect.arrayContaining(['authorization_code', 'refresh_token', DEVICE_GRANT]),
      )
      // 'none' is not listed, yet public clients are served (client_id in the body, PKCE).
      expect(metadata.token_endpoint_auth_methods_supported).not.toContain('none')
    }
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      expect((await fetch(`${origin}${path}`)).status, path).toBe(404)
    }
  })

  test("the library's discover() finds it (path-inserted RFC 8414 URL), issuer checked", async () => {
    const ba = await betterAuth()
    const metadata = await discover(ba.issuer)
    expect(metadata.issuer).toBe(ba.issuer)
    expect(metadata.token_endpoint).toBe(ba.tokenEndpoint)
    expect(metadata.device_authorization_endpoint).toBe(ba.deviceAuthorizationEndpoint)
    expect(metadata.grant_types_supported).toContain(GrantType.DEVICE_CODE)
  })
})

test.describe('authorization code + PKCE', () => {
  test('end to end: code with state and iss (RFC 9207), tokens, userinfo accepts the access token', async () => {
    const ba = await betterAuth()
    const codes = pkce()
    const url = authorizationUrl(ba, codes, { state: 'state-1' })
    const callback = await ba.authorize(url)
    // Registered as http://127.0.0.1/callback: a loopback redirect URI matches on any port (RFC 8252 §7.3).
    expect(ba.publicClient.redirectUri).toBe('http://127.0.0.1/callback')
    expect(`${callback.origin}${callback.pathname}`).toBe(LOOPBACK_REDIRECT)
    expect(callback.searchParams.get('state')).toBe('state-1')
    expect(callback.searchParams.get('iss')).toBe(ba.issuer)
    const code = callback.searchParams.get('code')
    expect(code).toBeTruthy()

    expect(ba.tokenRequests()).toBe(0)
    const { status, json } = await postForm(ba.tokenEndpoint, {
      grant_type: 'authorization_code',
      code: code ?? '',
      redirect_uri: LOOPBACK_REDIRECT,
      client_id: ba.publicClient.clientId,
      code_verifier: codes.verifier,
    })
    expect(status).toBe(200)
    expect(ba.tokenRequests()).toBe(1)
    expect(json).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'openid offline_access' })
    expect(typeof json.access_token).toBe('string')
    expect(typeof json.refresh_token).toBe('string')
    expect(typeof json.id_token).toBe('string')
    // Not in RFC 6749: better-auth adds the absolute expiry (seconds since the epoch).
    expect(typeof json.expires_at).toBe('number')

    const info = await userinfo(ba, json.access_token)
    expect(info.status).toBe(200)
    expect(info.json.sub).toBe(ba.user.id)

    // A code is good once.
    const again = await postForm(ba.tokenEndpoint, {
      grant_type: 'authorization_code',
      code: code ?? '',
      redirect_uri: LOOPBACK_REDIRECT,
      client_id: ba.publicClient.clientId,
      code_verifier: codes.verifier,
    })
    expect(again).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'invalid code' },
    })
  })

  test('a refresh token only with offline_access; accessTokenTtl sets expires_in', async () => {
    const ba = await betterAuth({ accessTokenTtl: 120 })
    const tokens = await signIn(ba, 'openid')
    expect(tokens.refresh_token).toBeUndefined()
    expect(tokens.expires_in).toBe(120)
  })

  test('a wrong code_verifier is refused (401 invalid_request) and burns the code', async () => {
    const ba = await betterAuth()
    const codes = pkce()
    const callback = await ba.authorize(authorizationUrl(ba, codes))
    const form = {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: LOOPBACK_REDIRECT,
      client_id: ba.publicClient.clientId,
    }
    const wrong = await postForm(ba.tokenEndpoint, { ...form, code_verifier: pkce().verifier })
    expect(wrong).toEqual({
      status: 401,
      json: { error: 'invalid_request', error_description: 'code verification failed' },
    })
    const right = await postForm(ba.tokenEndpoint, { ...form, code_verifier: codes.verifier })
    expect(right.status).toBe(400)
    expect(right.json.error).toBe('invalid_grant')
  })

  test('PKCE is required of the public client: without it the redirect carries invalid_request', async () => {
    const ba = await betterAuth()
    const url = authorizationUrl(ba, pkce(), { state: 's' })
    url.searchParams.delete('code_challenge')
    url.searchParams.delete('code_challenge_method')
    const callback = await ba.authorize(url)
    expect(callback.searchParams.get('error')).toBe('invalid_request')
    expect(callback.searchParams.get('error_description')).toBe('pkce is required for public clients')
    expect(callback.searchParams.get('state')).toBe('s')
    expect(callback.searchParams.get('code')).toBeNull()
  })

  test('deny gives access_denied with state and iss, even after an earlier consent', async () => {
    const ba = await betterAuth()
    await signIn(ba)
    const callback = await ba.authorize(authorizationUrl(ba, pkce(), { state: 'deny-1' }), { deny: true })
    expect(`${callback.origin}${callback.pathname}`).toBe(LOOPBACK_REDIRECT)
    expect(Object.fromEntries(callback.searchParams)).toEqual({
      error: 'access_denied',
      error_description: 'User denied access',
      state: 'deny-1',
      iss: ba.issuer,
    })
  })

  test('rememberConsent: the second authorization skips the consent step', async () => {
    const ba = await betterAuth({ rememberConsent: true })
    await signIn(ba)
    const callback = await ba.authorize(authorizationUrl(ba, pkce()), { deny: true })
    // No consent step was shown, so there was nothing to deny.
    expect(callback.searchParams.get('code')).toBeTruthy()
  })
})

test.describe('refresh tokens', () => {
  test('rotate; reusing an old one is invalid_grant and revokes the whole family', async () => {
    const ba = await betterAuth()
    const first = await signIn(ba)

    const second = await refresh(ba, first.refresh_token)
    expect(second.status).toBe(200)
    expect(second.json.refresh_token).toEqual(expect.any(String))
    expect(second.json.refresh_token).not.toBe(first.refresh_token)
    expect(second.json.access_token).not.toBe(first.access_token)
    expect((await userinfo(ba, second.json.access_token)).status).toBe(200)

    // The old one is refused...
    const reused = await refresh(ba, first.refresh_token)
    expect(reused).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'invalid refresh token' },
    })
    // ...and its reuse revoked every refresh token of this client and user, and their access tokens.
    const afterReuse = await refresh(ba, second.json.refresh_token)
    expect(afterReuse).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'session not found' },
    })
    expect((await userinfo(ba, second.json.access_token)).status).toBe(401)
  })

  test("the library's getToken refresh grant: rotated token back, the old one refused with invalid_grant", async () => {
    const ba = await betterAuth()
    const first = await signIn(ba)
    const refreshToken = String(first.refresh_token)
    const refreshed = await getToken(ba.tokenEndpoint, {
      grantType: GrantType.REFRESH_TOKEN,
      refreshToken,
      clientId: ba.publicClient.clientId,
    })
    expect(refreshed.tokenType).toMatch(/^bearer$/i)
    expect(refreshed.expiresIn).toBe(3600)
    expect(refreshed.refreshToken).toBeTruthy()
    expect(refreshed.refreshToken).not.toBe(refreshToken)
    expect((await userinfo(ba, refreshed.accessToken)).json.sub).toBe(ba.user.id)

    const err = await rejection(
      getToken(ba.tokenEndpoint, {
        grantType: GrantType.REFRESH_TOKEN,
        refreshToken,
        clientId: ba.publicClient.clientId,
      }),
    )
    expect(err.status).toBe(400)
    expect(err.error).toBe('invalid_grant')
    expect(err.message).not.toContain(refreshToken)
  })

  test('a short accessTokenTtl: the access token dies, the refresh token renews it', async () => {
    const ba = await betterAuth({ accessTokenTtl: 1 })
    const first = await signIn(ba)
    expect(first.expires_in).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 2100))
    expect((await userinfo(ba, first.access_token)).status).toBe(401)
    const renewed = await refresh(ba, first.refresh_token)
    expect(renewed.status).toBe(200)
    expect((await userinfo(ba, renewed.json.access_token)).status).toBe(200)
  })

  test('a narrower scope may be asked for on refresh; a wider one is invalid_scope', async () => {
    const ba = await betterAuth()
    const first = await signIn(ba)
    const narrower = await getToken(ba.tokenEndpoint, {
      grantType: GrantType.REFRESH_TOKEN,
      refreshToken: String(first.refresh_token),
      clientId: ba.publicClient.clientId,
      scopes: ['openid'],
    })
    expect(narrower.raw.scope).toBe('openid')
    const err = await rejection(
      getToken(ba.tokenEndpoint, {
        grantType: GrantType.REFRESH_TOKEN,
        refreshToken: String(narrower.refreshToken),
        clientId: ba.publicClient.clientId,
        scopes: ['openid', 'email'],
      }),
    )
    expect(err.error).toBe('invalid_scope')
  })
})

test.describe('revocation (RFC 7009)', () => {
  test('access and refresh tokens; an unknown token is 400 invalid_request, not 200', async () => {
    const ba = await betterAuth()
    const revoke = (token: unknown, hint?: string) =>
      postForm(ba.revocationEndpoint, {
        token: String(token),
        client_id: ba.publicClient.clientId,
        ...(hint ? { token_type_hint: hint } : {}),
      })
    const one = await signIn(ba)
    expect(await revoke(one.access_token)).toEqual({ status: 200, json: {} })
    expect((await userinfo(ba, one.access_token)).status).toBe(401)
    // The refresh token of that grant is still good.
    const refreshed = await refresh(ba, one.refresh_token)
    expect(refreshed.status).toBe(200)

    // Revoking the refresh token also revokes the access tokens issued from it.
    expect(await revoke(refreshed.json.refresh_token, 'refresh_token')).toEqual({ status: 200, json: {} })
    expect((await refresh(ba, refreshed.json.refresh_token)).json.error).toBe('invalid_grant')
    expect((await userinfo(ba, refreshed.json.access_token)).status).toBe(401)

    expect(await revoke('no-such-token')).toEqual({
      status: 400,
      json: { error: 'invalid_request', error_description: 'token not found' },
    })
  })
})

test.describe('device flow (RFC 8628) at the OAuth token endpoint', () => {
  test('end to end with fetch: pending, slow_down, approved, then the code is spent', async () => {
    const ba = await betterAuth({ deviceInterval: 1 })
    const started = await postForm(ba.deviceAuthorizationEndpoint, {
      client_id: ba.publicClient.clientId,
      scope: 'openid offline_access',
    })
    expect(started.status).toBe(200)
    const device = started.json as {
      device_code: string
      user_code: string
      verification_uri: string
      verification_uri_complete: string
      expires_in: number
      interval: number
    }
    expect(device.user_code).toMatch(/^[A-HJ-NP-Z2-9]{8}$/)
    expect(device.verification_uri).toBe(`${new URL(ba.issuer).origin}/device`)
    expect(device.verification_uri_complete).toBe(`${device.verification_uri}?user_code=${device.user_code}`)
    expect(device).toMatchObject({ expires_in: 600, interval: 1 })

    const poll = () =>
      postForm(ba.tokenEndpoint, {
        grant_type: DEVICE_GRANT,
        device_code: device.device_code,
        client_id: ba.publicClient.clientId,
      })
    expect((await poll()).json.error).toBe('authorization_pending')
    // Sooner than `interval` after the previous poll:
    expect((await poll()).json.error).toBe('slow_down')

    // The person may type the code with a dash and in lower case.
    await ba.approveDevice(`${device.user_code.slice(0, 4)}-${device.user_code.slice(4)}`.toLowerCase())
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const approved = await poll()
    expect(approved.status).toBe(200)
    expect(approved.json).toMatchObject({ token_type: 'Bearer', scope: 'openid offline_access' })
    expect(typeof approved.json.refresh_token).toBe('string')
    expect((await userinfo(ba, approved.json.access_token)).json.sub).toBe(ba.user.id)

    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect(await poll()).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Invalid device code' },
    })
    expect(ba.tokenRequests()).toBe(4)
  })

  test('denied gives access_denied; an unknown client is invalid_client', async () => {
    const ba = await betterAuth()
    const { json } = await postForm(ba.deviceAuthorizationEndpoint, { client_id: ba.publicClient.clientId })
    await ba.denyDevice(String(json.user_code))
    const denied = await postForm(ba.tokenEndpoint, {
      grant_type: DEVICE_GRANT,
      device_code: String(json.device_code),
      client_id: ba.publicClient.clientId,
    })
    expect(denied).toEqual({
      status: 400,
      json: { error: 'access_denied', error_description: 'Access denied' },
    })

    const unknown = await postForm(ba.deviceAuthorizationEndpoint, { client_id: 'no-such-client' })
    expect(unknown.status).toBe(400)
    expect(unknown.json.error).toBe('invalid_client')
  })

  test('expired device code: expired_token', async () => {
    const ba = await betterAuth({ deviceCodeTtl: 1 })
    const { json } = await postForm(ba.deviceAuthorizationEndpoint, { client_id: ba.publicClient.clientId })
    expect(json.expires_in).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const expired = await postForm(ba.tokenEndpoint, {
      grant_type: DEVICE_GRANT,
      device_code: String(json.device_code),
      client_id: ba.publicClient.clientId,
    })
    expect(expired.status).toBe(400)
    expect(expired.json.error).toBe('expired_token')
  })

  test("the library's getDeviceCode + pollTokenEndpoint", async () => {
    const ba = await betterAuth({ deviceInterval: 1 })
    const code = await getDeviceCode(ba.deviceAuthorizationEndpoint, ba.publicClient.clientId, {
      scope: ['openid', 'offline_access'],
    })
    expect(code.interval).toBe(1)
    const pending: number[] = []
    const tokens = await pollTokenEndpoint(code, ba.tokenEndpoint, ba.publicClient.clientId, {
      onPending: ({ attempt }) => {
        pending.push(attempt)
        if (attempt === 2) void ba.approveDevice(code.userCode)
      },
    })
    expect(pending).toEqual([1, 2])
    expect(tokens.refreshToken).toBeTruthy()
    expect((await userinfo(ba, tokens.accessToken)).json.sub).toBe(ba.user.id)
    expect(ba.tokenRequests()).toBe(3)
  })

  test("the library's DeviceCodeAuthenticator from the issuer: device flow once, then rotated refreshes", async () => {
    const ba = await betterAuth({ deviceInterval: 1 })
    const store = memoryStore()
    const shown: DeviceCodeResponse[] = []
    const auth = new DeviceCodeAuthenticator({
      issuer: ba.issuer,
      clientId: ba.publicClient.clientId,
      scopes: ['openid', 'offline_access'],
      store,
      onDeviceCode: async (code) => {
        shown.push(code)
        await ba.approveDevice(code.userCode)
      },
    })
    const first = await auth.getAccessToken()
    expect(await auth.getAccessToken()).toBe(first)
    const refreshTokens = [(await store.get())?.refreshToken]
    expect(ba.tokenRequests()).toBe(1)

    await auth.invalidate()
    const second = await auth.getAccessToken()
    refreshTokens.push((await store.get())?.refreshToken)
    await auth.invalidate()
    const third = await auth.getAccessToken()
    refreshTokens.push((await store.get())?.refreshToken)

    // A third token proves the rotated refresh token was kept: reusing an old one would revoke the family.
    expect(new Set([first, second, third]).size).toBe(3)
    expect(new Set(refreshTokens).size).toBe(3)
    expect(shown).toHaveLength(1)
    expect(ba.tokenRequests()).toBe(3)
    expect((await userinfo(ba, third)).json.sub).toBe(ba.user.id)
  })
})

test.describe('the server', () => {
  test('no CORS: preflights are 404, answers carry no Access-Control-Allow-Origin', async () => {
    const ba = await betterAuth()
    const origin = 'http://localhost:3000'
    const preflight = await fetch(ba.tokenEndpoint, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    expect(preflight.status).toBe(404)
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
    const post = await fetch(ba.tokenEndpoint, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'y' }),
    })
    expect(post.status).toBe(400)
    expect(post.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('prints nothing to the console, from start to close', async () => {
    const methods = ['log', 'info', 'warn', 'error', 'debug'] as const
    const saved = methods.map((name) => console[name])
    const printed: unknown[][] = []
    for (const name of methods) console[name] = (...args: unknown[]) => void printed.push(args)
    try {
      const ba = await startBetterAuth({ deviceInterval: 1 })
      try {
        const tokens = await signIn(ba)
        await refresh(ba, tokens.refresh_token)
        await refresh(ba, tokens.refresh_token)
        await ba.authorize(authorizationUrl(ba, pkce()), { deny: true })
        await postForm(ba.tokenEndpoint, { grant_type: 'password' })
        await fetch(`${ba.issuer}/no-such-endpoint`)
      } finally {
        await ba.close()
      }
    } finally {
      methods.forEach((name, i) => {
        console[name] = saved[i] as (typeof console)[typeof name]
      })
    }
    expect(printed).toEqual([])
  })

  test('binds 127.0.0.1 only, and close() frees the port', async () => {
    const ba = await startBetterAuth()
    const { port, hostname } = new URL(ba.issuer)
    expect(hostname).toBe('127.0.0.1')
    // A keep-alive connection stays open until close() ends it.
    expect((await fetch(ba.tokenEndpoint, { method: 'POST' })).status).toBeGreaterThanOrEqual(400)
    await ba.close()
    await expect(fetch(ba.issuer)).rejects.toThrow()
    const again = createServer()
    try {
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject)
        again.listen(Number(port), '127.0.0.1', resolve)
      })
      expect(again.listening).toBe(true)
    } finally {
      await new Promise<void>((resolve) => again.close(() => resolve()))
    }
  })
})
