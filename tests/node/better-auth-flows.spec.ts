/**
 * The library's flows against a second, independent server: better-auth with @better-auth/oauth-provider
 * (tests/fixtures/better-auth.ts): an issuer with a path, rotating refresh tokens with reuse detection,
 * non-RFC error codes. LoopbackAuthenticator, DeviceCodeAuthenticator and the authorization code protocol
 * functions, so that nothing is tuned to oidc-provider.
 */
import { connect } from 'node:net'
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  Authenticator,
  buildAuthorizationUrl,
  createPkce,
  DeviceCodeAuthenticator,
  discover,
  GrantType,
  getToken,
  memoryStore,
  parseAuthorizationResponse,
} from 'token-client'
import { LoopbackAuthenticator } from 'token-client/node'
import {
  type BetterAuthFixture,
  type StartBetterAuthOptions,
  startBetterAuth,
} from '../fixtures/better-auth.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'

const closedAfterTest = closeAfterEach(test)

async function betterAuth(opts?: StartBetterAuthOptions): Promise<BetterAuthFixture> {
  return closedAfterTest(await startBetterAuth(opts))
}

async function userinfo(ba: BetterAuthFixture, token: string): Promise<{ status: number; sub?: string }> {
  const res = await fetch(ba.userinfoEndpoint, { headers: { authorization: `Bearer ${token}` } })
  const text = await res.text()
  const body = res.ok && text ? (JSON.parse(text) as { sub?: string }) : {}
  return { status: res.status, ...(body.sub === undefined ? {} : { sub: body.sub }) }
}

async function authError(promise: Promise<unknown>): Promise<AuthenticationError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AuthenticationError)
  return err as AuthenticationError
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
}

function refresh(ba: BetterAuthFixture, refreshToken: string): Promise<unknown> {
  return getToken(ba.tokenEndpoint, {
    grantType: GrantType.REFRESH_TOKEN,
    refreshToken,
    clientId: ba.publicClient.clientId,
  })
}

test('LoopbackAuthenticator from the issuer (path-inserted discovery): signed in, rotated refreshes after invalidate() and after expiry, signOut revokes', async () => {
  test.setTimeout(60_000)
  const ba = await betterAuth({ accessTokenTtl: 2 })
  const store = memoryStore()
  const urls: URL[] = []
  let page: Promise<{ status: number; text: string }> | undefined
  const auth = new LoopbackAuthenticator({
    issuer: ba.issuer,
    clientId: ba.publicClient.clientId,
    scopes: ['openid', 'offline_access'],
    store,
    onAuthorizationUrl: (url) => {
      urls.push(url)
      // The person's part (sign in, consent) in the background, then the browser follows the redirect.
      page = ba
        .authorize(url)
        .then((callback) => fetch(callback))
        .then(async (res) => ({ status: res.status, text: await res.text() }))
      page.catch(() => {})
    },
  })
  expect(auth).toBeInstanceOf(Authenticator)
  const first = await auth.getAccessToken()
  expect(await page).toMatchObject({ status: 200, text: expect.stringContaining('Signed in') })
  expect(urls).toHaveLength(1)
  const url = urls[0] as URL
  expect(url.origin + url.pathname).toBe(ba.authorizationEndpoint)
  const redirect = new URL(url.searchParams.get('redirect_uri') ?? '')
  expect(await refused(Number(redirect.port))).toBe(true)
  expect(await userinfo(ba, first)).toEqual({ status: 200, sub: ba.user.id })
  const refreshTokens = [(await store.get())?.refreshToken]
  expect(refreshTokens[0]).toBeTruthy()
  expect(ba.tokenRequests()).toBe(1)

  // A 401 somewhere: the rotated refresh token, once.
  await auth.invalidate()
  const second = await auth.getAccessToken()
  refreshTokens.push((await store.get())?.refreshToken)
  // After expiry (2 s tokens, usable for 1 s): again.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const third = await auth.getAccessToken()
  refreshTokens.push((await store.get())?.refreshToken)
  expect(new Set([first, second, third]).size).toBe(3)
  // A new refresh token each time, and the newest kept: reusing an old one would revoke the whole family.
  expect(new Set(refreshTokens).size).toBe(3)
  expect(ba.tokenRequests()).toBe(3)
  expect(urls).toHaveLength(1)
  expect(await userinfo(ba, third)).toEqual({ status: 200, sub: ba.user.id })

  expect(await auth.signOut()).toEqual({ revoked: true })
  expect((await userinfo(ba, third)).status).toBe(401)
  expect((await authError(refresh(ba, refreshTokens[2] ?? ''))).error).toBe('invalid_grant')
  expect(await store.get()).toBeUndefined()
})

test('LoopbackAuthenticator: a refusal on the consent step is access_denied (with iss checked), the error page shown', async () => {
  const ba = await betterAuth()
  let page: Promise<{ status: number; text: string }> | undefined
  const auth = new LoopbackAuthenticator({
    issuer: ba.issuer,
    clientId: ba.publicClient.clientId,
    scopes: ['openid', 'offline_access'],
    onAuthorizationUrl: (url) => {
      page = ba
        .authorize(url, { deny: true })
        .then((callback) => fetch(callback))
        .then(async (res) => ({ status: res.status, text: await res.text() }))
      page.catch(() => {})
    },
  })
  const err = await authError(auth.getAccessToken())
  expect(err.error).toBe('access_denied')
  expect(err.errorDescription).toBe('User denied access')
  expect(await page).toMatchObject({ status: 400, text: expect.stringContaining('Sign-in failed') })
  expect(ba.tokenRequests()).toBe(0)
})

test('DeviceCodeAuthenticator: device flow approved, then a rotating refresh; signOut revokes', async () => {
  const ba = await betterAuth({ deviceInterval: 1 })
  const store = memoryStore()
  const userCodes: string[] = []
  const auth = new DeviceCodeAuthenticator({
    issuer: ba.issuer,
    clientId: ba.publicClient.clientId,
    scopes: ['openid', 'offline_access'],
    store,
    onDeviceCode: async (code) => {
      userCodes.push(code.userCode)
      await ba.approveDevice(code.userCode)
    },
  })
  const first = await auth.getAccessToken()
  const firstRefresh = (await store.get())?.refreshToken
  expect(firstRefresh).toBeTruthy()
  await auth.invalidate()
  const second = await auth.getAccessToken()
  const secondRefresh = (await store.get())?.refreshToken
  expect(second).not.toBe(first)
  expect(secondRefresh).not.toBe(firstRefresh)
  expect(userCodes).toHaveLength(1)
  expect(await userinfo(ba, second)).toEqual({ status: 200, sub: ba.user.id })
  expect(await auth.signOut()).toEqual({ revoked: true })
  expect((await userinfo(ba, second)).status).toBe(401)
  expect((await authError(refresh(ba, secondRefresh ?? ''))).error).toBe('invalid_grant')
})

test('the authorization code protocol functions: createPkce, buildAuthorizationUrl, parseAuthorizationResponse with the issuer, getToken', async () => {
  const ba = await betterAuth()
  const metadata = await discover(ba.issuer)
  expect(metadata.issuer).toBe(ba.issuer)
  expect(metadata.authorization_response_iss_parameter_supported).toBe(true)
  const pkce = await createPkce()
  const state = crypto.randomUUID()
  // Any port: the registered http://127.0.0.1/callback is a loopback redirect URI (RFC 8252 §7.3).
  const redirectUri = 'http://127.0.0.1:53682/callback'
  const url = buildAuthorizationUrl(metadata.authorization_endpoint ?? '', ba.publicClient.clientId, {
    redirectUri,
    codeChallenge: pkce.codeChallenge,
    state,
    scopes: ['openid', 'offline_access'],
  })
  const callback = await ba.authorize(url)
  const expected = { state, issuer: metadata.issuer, issParameterRequired: true }

  // The same callback checked against another issuer or state is refused (RFC 9207, RFC 6749 §10.12).
  expect(() =>
    parseAuthorizationResponse(callback, { ...expected, issuer: 'https://other.example' }),
  ).toThrow(expect.objectContaining({ error: 'issuer_mismatch' }))
  expect(() => parseAuthorizationResponse(callback, { ...expected, state: 'another' })).toThrow(
    expect.objectContaining({ error: 'state_mismatch' }),
  )
  const { code } = parseAuthorizationResponse(callback, expected)

  const request = {
    grantType: GrantType.AUTHORIZATION_CODE,
    code,
    redirectUri,
    codeVerifier: pkce.codeVerifier,
    clientId: ba.publicClient.clientId,
  }
  const token = await getToken(metadata.token_endpoint ?? '', request)
  expect(token.tokenType).toBe('Bearer')
  expect(token.refreshToken).toBeTruthy()
  expect(token.idToken).toBeTruthy()
  expect(await userinfo(ba, token.accessToken)).toEqual({ status: 200, sub: ba.user.id })
  // The refresh token rotates; the old one is then refused.
  const rotated = await getToken(ba.tokenEndpoint, {
    grantType: GrantType.REFRESH_TOKEN,
    refreshToken: token.refreshToken ?? '',
    clientId: ba.publicClient.clientId,
  })
  expect(rotated.refreshToken).toBeTruthy()
  expect(rotated.refreshToken).not.toBe(token.refreshToken)
  expect((await authError(refresh(ba, token.refreshToken ?? ''))).error).toBe('invalid_grant')
  // A code is good once.
  expect((await authError(getToken(ba.tokenEndpoint, request))).error).toBe('invalid_grant')
})
