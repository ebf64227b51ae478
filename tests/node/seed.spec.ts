/**
 * The seed's own test scenarios (flytekit's tests/flytekit/unit/clients/auth/test_token_client.py, which mocks
 * `requests`), replayed over real HTTP against a scripted node:http server on 127.0.0.1 that answers the same
 * bodies; plus the request shape, the constants, validation, the adapter rule, and what an error may say.
 */
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  AuthenticationPending,
  DeviceCodeResponse,
  errorAuthPending,
  errorSlowDown,
  GrantType,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  pollTokenEndpoint,
  utf8,
} from 'token-client'
import { rejection, scriptedServers } from '../fixtures/hostile.ts'
import { json, text } from '../fixtures/scripted-server.ts'
import { seedDevice } from '../fixtures/seed-device.ts'

const serve = scriptedServers(test)

test.describe('seed: get_basic_authorization_header', () => {
  test('plain id and secret', () => {
    expect(getBasicAuthorizationHeader('client_id', 'abc')).toBe('Basic Y2xpZW50X2lkOmFiYw==')
  })

  test('a secret that needs form-urlencoding', () => {
    expect(getBasicAuthorizationHeader('client_id', 'abc%%$?\\/\\/')).toBe(
      'Basic Y2xpZW50X2lkOmFiYyUyNSUyNSUyNCUzRiU1QyUyRiU1QyUyRg==',
    )
  })

  test('a non-ASCII secret round-trips through UTF-8 form encoding', () => {
    const header = getBasicAuthorizationHeader('clïent id', 'pässwörd ✓')
    const decoded = atob(header.replace(/^Basic /, ''))
    expect(decoded).toBe('cl%C3%AFent+id:p%C3%A4ssw%C3%B6rd+%E2%9C%93')
    const [id, secret] = decoded.split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')))
    expect([id, secret]).toEqual(['clïent id', 'pässwörd ✓'])
  })
})

test.describe('seed: get_token', () => {
  test('access token and expiry, no refresh token; the request is a form POST', async () => {
    const s = await serve({
      '/token': (_req, res) => json(res, 200, { access_token: 'abc', expires_in: 60 }),
    })
    const authorizationHeader = getBasicAuthorizationHeader('abc123', 'secret')
    const token = await getToken(`${s.url}/token`, {
      clientId: 'abc123',
      scopes: ['my_scope'],
      authorizationHeader,
    })
    expect(token.accessToken).toBe('abc')
    expect(token.refreshToken).toBeUndefined()
    expect(token.expiresIn).toBe(60)
    expect(token.raw).toEqual({ access_token: 'abc', expires_in: 60 })

    const [request] = s.requests('/token')
    expect(request?.method).toBe('POST')
    expect(request?.headers.accept).toBe('application/json')
    expect(request?.headers['cache-control']).toBe('no-cache')
    expect(request?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/)
    expect(request?.headers.authorization).toBe(authorizationHeader)
    expect(Object.fromEntries(request?.form ?? [])).toEqual({
      grant_type: 'client_credentials',
      client_id: 'abc123',
      scope: 'my_scope',
    })
  })

  test('a refresh token when the server issues one', async () => {
    const s = await serve({
      '/token': (_req, res) => json(res, 200, { access_token: 'abc', refresh_token: 'def', expires_in: 60 }),
    })
    const token = await getToken(`${s.url}/token`, { clientId: 'abc123', scopes: ['my_scope'] })
    expect(token.accessToken).toBe('abc')
    expect(token.refreshToken).toBe('def')
    expect(token.expiresIn).toBe(60)
    // No Authorization header when none was given.
    expect(s.requests('/token')[0]?.headers.authorization).toBeUndefined()
  })

  test('every option lands in the form; scopes joined by one space', async () => {
    const s = await serve({
      '/token': (_req, res) => json(res, 200, { access_token: 'abc', expires_in: '60' }),
    })
    const token = await getToken(`${s.url}/token`, {
      grantType: GrantType.REFRESH_TOKEN,
      clientId: 'abc123',
      refreshToken: 'the-refresh-token',
      audience: 'https://api.example',
      scopes: ['a', 'b:c'],
    })
    expect(token.expiresIn).toBe(60)
    expect(Object.fromEntries(s.requests('/token')[0]?.form ?? [])).toEqual({
      grant_type: 'refresh_token',
      client_id: 'abc123',
      refresh_token: 'the-refresh-token',
      audience: 'https://api.example',
      scope: 'a b:c',
    })
  })

  test('authorization_pending and slow_down are AuthenticationPending', async () => {
    const s = await serve({
      '/token': (_req, res, index) =>
        json(res, 400, { error: index === 0 ? errorAuthPending : errorSlowDown }),
    })
    const options = { grantType: GrantType.DEVICE_CODE, clientId: 'abc123', deviceCode: 'code' }
    const pending = await rejection(getToken(`${s.url}/token`, options))
    expect(pending).toBeInstanceOf(AuthenticationPending)
    expect((pending as AuthenticationPending).error).toBe('authorization_pending')
    const slowDown = await rejection(getToken(`${s.url}/token`, options))
    expect(slowDown).toBeInstanceOf(AuthenticationPending)
    expect((slowDown as AuthenticationPending).error).toBe('slow_down')
  })
})

test.describe('seed: get_device_code', () => {
  test('an error answer, then a valid one', async () => {
    const s = await serve({
      '/device': (_req, res, index) =>
        index === 0
          ? json(res, 400, { error: 'invalid_client' })
          : json(res, 200, {
              device_code: 'code',
              user_code: 'BNDJJFXL',
              verification_uri: 'url',
              expires_in: 600,
              interval: 5,
            }),
    })
    const err = await rejection(getDeviceCode(`${s.url}/device`, 'abc123'))
    expect(err).toBeInstanceOf(AuthenticationError)
    expect((err as AuthenticationError).status).toBe(400)
    expect((err as AuthenticationError).error).toBe('invalid_client')

    const resp = await getDeviceCode(`${s.url}/device`, 'abc123', { scope: ['openid', 'offline_access'] })
    expect(resp).toBeInstanceOf(DeviceCodeResponse)
    expect(resp.deviceCode).toBe('code')
    expect(resp.userCode).toBe('BNDJJFXL')
    expect(resp.verificationUri).toBe('url')
    expect(resp.expiresIn).toBe(600)
    expect(resp.interval).toBe(5)

    const [, second] = s.requests('/device')
    expect(second?.method).toBe('POST')
    expect(Object.fromEntries(second?.form ?? [])).toEqual({
      client_id: 'abc123',
      scope: 'openid offline_access',
    })
  })

  test('audience is sent when given, omitted otherwise', async () => {
    const s = await serve({
      '/device': (_req, res) =>
        json(res, 200, { device_code: 'code', user_code: 'U', verification_uri: 'url', expires_in: 600 }),
    })
    const resp = await getDeviceCode(`${s.url}/device`, 'abc123', { audience: 'api' })
    expect(resp.interval).toBe(5)
    await getDeviceCode(`${s.url}/device`, 'abc123')
    const [withAudience, without] = s.requests('/device')
    expect(Object.fromEntries(withAudience?.form ?? [])).toEqual({ client_id: 'abc123', audience: 'api' })
    expect(Object.fromEntries(without?.form ?? [])).toEqual({ client_id: 'abc123' })
  })
})

test.describe('seed: poll_token_endpoint', () => {
  test('always authorization_pending until the device code expires → AuthenticationError', async () => {
    const s = await serve({ '/token': (_req, res) => json(res, 400, { error: errorAuthPending }) })
    const resp = seedDevice({ expiresIn: 1, interval: 1 })
    const err = await rejection(pollTokenEndpoint(resp, `${s.url}/token`, 'abc123'))
    expect(err).toBeInstanceOf(AuthenticationError)
  })

  test('interval 0 polls at once and returns the tokens', async () => {
    const s = await serve({
      '/token': (_req, res) => json(res, 200, { access_token: 'abc', refresh_token: 'def', expires_in: 60 }),
    })
    const resp = seedDevice({ expiresIn: 600, interval: 0 })
    const token = await pollTokenEndpoint(resp, `${s.url}/token`, 'abc123', { scopes: ['my_scope'] })
    expect(token.accessToken).toBe('abc')
    expect(token.refreshToken).toBe('def')
    expect(token.expiresIn).toBe(60)
    expect(Object.fromEntries(s.requests('/token')[0]?.form ?? [])).toEqual({
      grant_type: GrantType.DEVICE_CODE,
      client_id: 'abc123',
      device_code: 'code',
      scope: 'my_scope',
    })
  })
})

test.describe('constants and DeviceCodeResponse', () => {
  test('the seed constants and GrantType values', () => {
    expect(utf8).toBe('utf-8')
    expect(errorAuthPending).toBe('authorization_pending')
    expect(errorSlowDown).toBe('slow_down')
    expect(GrantType).toEqual({
      CLIENT_CREDS: 'client_credentials',
      DEVICE_CODE: 'urn:ietf:params:oauth:grant-type:device_code',
      REFRESH_TOKEN: 'refresh_token',
      // beyond the seed: sign-in with the browser (RFC 6749 §4.1.3)
      AUTHORIZATION_CODE: 'authorization_code',
    })
  })

  test('fromJsonResponse accepts the seed example, with or without interval', () => {
    const resp = DeviceCodeResponse.fromJsonResponse({
      device_code: 'code',
      user_code: 'BNDJJFXL',
      verification_uri: 'url',
      expires_in: 600,
      interval: 5,
    })
    expect(resp).toMatchObject({
      deviceCode: 'code',
      userCode: 'BNDJJFXL',
      verificationUri: 'url',
      expiresIn: 600,
      interval: 5,
    })
    const withDefaults = DeviceCodeResponse.fromJsonResponse({
      device_code: 'code',
      user_code: 'BNDJJFXL',
      verification_uri: 'https://idp.example/device',
      verification_uri_complete: 'https://idp.example/device?user_code=BNDJJFXL',
      expires_in: '600',
    })
    expect(withDefaults.interval).toBe(5)
    expect(withDefaults.expiresIn).toBe(600)
    expect(withDefaults.verificationUriComplete).toBe('https://idp.example/device?user_code=BNDJJFXL')
  })

  test('fromJsonResponse rejects invalid bodies with an AuthenticationError that names fields, not values', () => {
    for (const body of [
      null,
      'code',
      {},
      { device_code: 'secret-device-code', user_code: 'BNDJJFXL', expires_in: 600 },
      {
        device_code: 'secret-device-code',
        user_code: 'BNDJJFXL',
        verification_uri: 'url',
        expires_in: 'soon',
      },
      { device_code: '', user_code: 'BNDJJFXL', verification_uri: 'url', expires_in: 600 },
    ]) {
      let caught: unknown
      try {
        DeviceCodeResponse.fromJsonResponse(body)
      } catch (err) {
        caught = err
      }
      expect(caught, JSON.stringify(body)).toBeInstanceOf(AuthenticationError)
      expect((caught as Error).message).not.toContain('secret-device-code')
    }
  })

  test('the constructor validates too and defaults interval to 5', () => {
    expect(
      new DeviceCodeResponse({ deviceCode: 'c', userCode: 'u', verificationUri: 'v', expiresIn: 1 }).interval,
    ).toBe(5)
    expect(
      () => new DeviceCodeResponse({ deviceCode: 'c', userCode: 'u', verificationUri: '', expiresIn: 1 }),
    ).toThrow(AuthenticationError)
  })
})

test.describe('transport options without an adapter', () => {
  test('httpProxyUrl and verify:false throw a TypeError naming the adapter; verify:true is the default', async () => {
    const s = await serve({
      '/token': (_req, res) => json(res, 200, { access_token: 'abc' }),
      '/device': (_req, res) =>
        json(res, 200, { device_code: 'code', user_code: 'U', verification_uri: 'url', expires_in: 600 }),
    })
    const resp = new DeviceCodeResponse({
      deviceCode: 'c',
      userCode: 'u',
      verificationUri: 'v',
      expiresIn: 60,
      interval: 0,
    })
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['getToken proxy', () => getToken(`${s.url}/token`, { httpProxyUrl: 'http://127.0.0.1:3128' })],
      ['getToken verify', () => getToken(`${s.url}/token`, { verify: false })],
      ['getToken CA', () => getToken(`${s.url}/token`, { verify: '/etc/ssl/certs/ca.pem' })],
      [
        'getDeviceCode proxy',
        () => getDeviceCode(`${s.url}/device`, 'abc123', { httpProxyUrl: 'http://proxy' }),
      ],
      ['getDeviceCode verify', () => getDeviceCode(`${s.url}/device`, 'abc123', { verify: false })],
      [
        'poll proxy',
        () => pollTokenEndpoint(resp, `${s.url}/token`, 'abc123', { httpProxyUrl: 'http://proxy' }),
      ],
      ['poll verify', () => pollTokenEndpoint(resp, `${s.url}/token`, 'abc123', { verify: false })],
    ]
    for (const [name, call] of calls) {
      const err = await rejection(call())
      expect(err, name).toBeInstanceOf(TypeError)
      expect((err as Error).message, name).toContain('nodeAdapter')
      expect((err as Error).message, name).toContain('token-client/node')
    }
    // Nothing was sent with the option silently dropped.
    expect(s.requests()).toHaveLength(0)
    expect((await getToken(`${s.url}/token`, { verify: true })).accessToken).toBe('abc')
  })
})

test.describe('errors', () => {
  test('an HTML 502 page is an AuthenticationError with the status, never a SyntaxError', async () => {
    const s = await serve({
      '/token': (_req, res) =>
        text(res, 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', 'text/html; charset=utf-8'),
      '/device': (_req, res) => text(res, 502, '<html><body>Bad Gateway</body></html>', 'text/html'),
    })
    for (const call of [() => getToken(`${s.url}/token`), () => getDeviceCode(`${s.url}/device`, 'abc123')]) {
      const err = await rejection(call())
      expect(err).toBeInstanceOf(AuthenticationError)
      expect(err).not.toBeInstanceOf(SyntaxError)
      expect((err as AuthenticationError).status).toBe(502)
      expect((err as Error).message).toContain('502')
    }
  })

  test('a 200 answer that is not JSON, or lacks access_token, is an AuthenticationError', async () => {
    const s = await serve({
      '/token': (_req, res, index) =>
        index === 0
          ? text(res, 200, '<html>login</html>', 'text/html')
          : json(res, 200, { token_type: 'Bearer' }),
    })
    for (let i = 0; i < 2; i++) {
      const err = await rejection(getToken(`${s.url}/token`))
      expect(err).toBeInstanceOf(AuthenticationError)
      expect((err as AuthenticationError).status).toBe(200)
    }
  })

  test('the message says the status, the OAuth error and its description; the fields carry them', async () => {
    const s = await serve({
      '/token': (_req, res) =>
        json(res, 400, {
          error: 'invalid_scope',
          error_description: 'scope my_scope is not allowed for this client',
          error_uri: 'https://idp.example/errors/invalid_scope',
        }),
    })
    const err = await rejection(getToken(`${s.url}/token`, { scopes: ['my_scope'] }))
    expect(err).toBeInstanceOf(AuthenticationError)
    const e = err as AuthenticationError
    expect(e.name).toBe('AuthenticationError')
    expect(e.status).toBe(400)
    expect(e.error).toBe('invalid_scope')
    expect(e.errorDescription).toBe('scope my_scope is not allowed for this client')
    expect(e.errorUri).toBe('https://idp.example/errors/invalid_scope')
    expect(e.message).toContain('400')
    expect(e.message).toContain('invalid_scope')
    expect(e.message).toContain('scope my_scope is not allowed for this client')
  })

  test('secrets never appear in the message or JSON.stringify, even when the server echoes them', async () => {
    const secret = 's3cr3t:with/odd?chars&+ %'
    const refreshToken = 'refresh-token-value-1234'
    const deviceCode = 'device-code-value-5678'
    // A careless server that echoes the Authorization header and the whole form back.
    const s = await serve({
      '/token': (req, res) =>
        json(res, 401, {
          error: `invalid_client ${req.headers.authorization}`,
          error_description: `bad credentials: ${req.headers.authorization} ${req.body} ${secret} ${refreshToken} ${deviceCode}`,
          error_uri: `https://idp.example/?${req.body}`,
        }),
    })
    const authorizationHeader = getBasicAuthorizationHeader('abc123', secret)
    const err = await rejection(
      getToken(`${s.url}/token`, {
        authorizationHeader,
        grantType: GrantType.REFRESH_TOKEN,
        refreshToken,
        deviceCode,
      }),
    )
    expect(err).toBeInstanceOf(AuthenticationError)
    const e = err as AuthenticationError
    const visible = [
      e.message,
      JSON.stringify(e),
      String(e),
      e.error ?? '',
      e.errorDescription ?? '',
      e.errorUri ?? '',
    ]
    const credentials = authorizationHeader.slice('Basic '.length)
    for (const leaked of [
      secret,
      encodeURIComponent(secret),
      authorizationHeader,
      credentials,
      refreshToken,
      deviceCode,
    ]) {
      for (const shown of visible) expect(shown).not.toContain(leaked)
    }
    expect(e.message).toContain('401')
    expect(e.errorDescription).toContain('[redacted]')
  })
})
