/**
 * The three grants against a real authorization server (oidc-provider, tests/fixtures/oidc.ts): client
 * credentials with a secret that needs encoding, the device flow end to end and a refresh after it, deny,
 * abort, the expiry deadline; and slow_down, which oidc-provider never sends, from the scripted server.
 */
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  DeviceCodeResponse,
  GrantType,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  pollTokenEndpoint,
} from 'token-client'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { type OidcFixture, type StartOidcProviderOptions, startOidcProvider } from '../fixtures/oidc.ts'
import { json, type ScriptedServer, startScriptedServer } from '../fixtures/scripted-server.ts'
import { seedDevice } from '../fixtures/seed-device.ts'

const deviceScopes = ['openid', 'offline_access', 'api:read']

const closedAfterTest = closeAfterEach(test)

async function provider(opts?: StartOidcProviderOptions): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider(opts))
}

async function scripted(routes: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
  return closedAfterTest(await startScriptedServer(routes))
}

/** Awaits a promise expected to reject; returns the rejection and when it happened (performance.now()). */
async function rejection(promise: Promise<unknown>): Promise<{ error: unknown; at: number }> {
  try {
    await promise
  } catch (error) {
    return { error, at: performance.now() }
  }
  throw new Error('expected a rejection, got a resolution')
}

/** The same device code response with another polling interval (seconds). */
function withInterval(resp: DeviceCodeResponse, interval: number): DeviceCodeResponse {
  return new DeviceCodeResponse({ ...resp, interval })
}

test.describe('client credentials', () => {
  test('Basic header with a secret that needs form-urlencoding', async () => {
    const op = await provider()
    const { clientId, clientSecret } = op.confidentialClient
    const token = await getToken(op.tokenEndpoint, {
      authorizationHeader: getBasicAuthorizationHeader(clientId, clientSecret),
      scopes: ['api:read'],
    })
    expect(token.accessToken.length).toBeGreaterThan(0)
    expect(token.tokenType).toBe('Bearer')
    expect(token.scope).toBe('api:read')
    expect(token.expiresIn).toBeGreaterThan(3500)
    expect(token.expiresIn).toBeLessThanOrEqual(3600)
    expect(token.refreshToken).toBeUndefined()
  })

  test('a wrong secret is invalid_client, and the secret is not in the error', async () => {
    const op = await provider()
    const wrongSecret = `${op.confidentialClient.clientSecret}-wrong`
    const { error } = await rejection(
      getToken(op.tokenEndpoint, {
        authorizationHeader: getBasicAuthorizationHeader(op.confidentialClient.clientId, wrongSecret),
      }),
    )
    expect(error).toBeInstanceOf(AuthenticationError)
    const e = error as AuthenticationError
    expect(e.status).toBe(401)
    expect(e.error).toBe('invalid_client')
    expect(e.message).toContain('invalid_client')
    expect(`${e.message} ${JSON.stringify(e)}`).not.toContain(wrongSecret)
  })
})

test.describe('device flow', () => {
  test('code → approve → access and refresh token, then a refresh_token grant', async () => {
    const op = await provider()
    const { clientId } = op.deviceClient
    const resp = await getDeviceCode(op.deviceAuthorizationEndpoint, clientId, { scope: deviceScopes })
    expect(resp.userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/)
    expect(resp.verificationUri).toBe(`${op.issuer}/device`)
    expect(resp.verificationUriComplete).toContain('user_code=')
    expect(resp.expiresIn).toBeGreaterThan(500)
    // oidc-provider sends no interval: RFC 8628 §3.2 says 5 seconds then.
    expect(resp.interval).toBe(5)

    const pending: Array<{ attempt: number; interval: number }> = []
    const token = await pollTokenEndpoint(withInterval(resp, 0.2), op.tokenEndpoint, clientId, {
      onPending: (info) => {
        pending.push(info)
        // Approve once the client has seen authorization_pending, as a person would, a little later.
        if (pending.length === 1) void op.approve(resp.userCode)
      },
    })
    expect(pending.length).toBeGreaterThanOrEqual(1)
    expect(pending[0]).toEqual({ attempt: 1, interval: 0.2 })
    expect(token.accessToken.length).toBeGreaterThan(0)
    expect(token.refreshToken).toBeTruthy()
    expect(token.tokenType).toBe('Bearer')
    expect(token.idToken).toBeTruthy()
    expect(token.scope?.split(' ').sort()).toEqual([...deviceScopes].sort())
    expect(token.expiresIn).toBeGreaterThan(0)
    expect(op.tokenRequests()).toBe(pending.length + 1)

    const refreshed = await getToken(op.tokenEndpoint, {
      grantType: GrantType.REFRESH_TOKEN,
      refreshToken: token.refreshToken,
      clientId,
    })
    expect(refreshed.accessToken.length).toBeGreaterThan(0)
    expect(refreshed.accessToken).not.toBe(token.accessToken)
    // A public client's refresh token is rotated.
    expect(refreshed.refreshToken).toBeTruthy()
    expect(refreshed.refreshToken).not.toBe(token.refreshToken)
  })

  test('deny → AuthenticationError access_denied on the very next poll', async () => {
    const op = await provider()
    const { clientId } = op.deviceClient
    const resp = await getDeviceCode(op.deviceAuthorizationEndpoint, clientId, { scope: deviceScopes })
    await op.deny(resp.userCode)
    const before = op.tokenRequests()
    const pending: unknown[] = []
    const { error } = await rejection(
      pollTokenEndpoint(withInterval(resp, 0.2), op.tokenEndpoint, clientId, {
        onPending: (i) => pending.push(i),
      }),
    )
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as AuthenticationError).error).toBe('access_denied')
    expect((error as AuthenticationError).status).toBe(400)
    expect(pending).toEqual([])
    expect(op.tokenRequests() - before).toBe(1)
  })

  test('deny while polling stops at once', async () => {
    const op = await provider()
    const { clientId } = op.deviceClient
    const resp = await getDeviceCode(op.deviceAuthorizationEndpoint, clientId, { scope: deviceScopes })
    let attempts = 0
    const { error } = await rejection(
      pollTokenEndpoint(withInterval(resp, 0.2), op.tokenEndpoint, clientId, {
        onPending: ({ attempt }) => {
          attempts = attempt
          if (attempt === 2) void op.deny(resp.userCode)
        },
      }),
    )
    expect((error as AuthenticationError).error).toBe('access_denied')
    expect(attempts).toBe(2)
    expect(op.tokenRequests()).toBe(3)
  })

  test('AbortSignal aborts the wait between polls at once, with the signal’s reason', async () => {
    const op = await provider()
    const { clientId } = op.deviceClient
    const resp = await getDeviceCode(op.deviceAuthorizationEndpoint, clientId, { scope: deviceScopes })
    const controller = new AbortController()
    const reason = new Error('the user cancelled')
    const polling = rejection(
      pollTokenEndpoint(resp, op.tokenEndpoint, clientId, { signal: controller.signal }),
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    const abortedAt = performance.now()
    controller.abort(reason)
    const { error, at } = await polling
    expect(error).toBe(reason)
    const latency = at - abortedAt
    test.info().annotations.push({ type: 'abort latency (wait)', description: `${latency.toFixed(1)} ms` })
    expect(latency).toBeLessThan(250)
    // It was still in its first 5-second wait: nothing was sent.
    expect(op.tokenRequests()).toBe(0)
  })

  test('AbortSignal aborts a request in flight at once', async () => {
    // A token endpoint that never answers.
    const s = await scripted({ '/token': () => {} })
    const resp = seedDevice({ expiresIn: 600, interval: 0 })
    const controller = new AbortController()
    const polling = rejection(
      pollTokenEndpoint(resp, `${s.url}/token`, 'abc123', { signal: controller.signal }),
    )
    await expect.poll(() => s.requests('/token').length, { timeout: 10_000 }).toBe(1)
    const abortedAt = performance.now()
    controller.abort()
    const { error, at } = await polling
    expect(error).toBe(controller.signal.reason)
    expect((error as Error).name).toBe('AbortError')
    const latency = at - abortedAt
    test.info().annotations.push({ type: 'abort latency (request)', description: `${latency.toFixed(1)} ms` })
    expect(latency).toBeLessThan(250)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(s.requests('/token')).toHaveLength(1)
  })

  test('an already aborted signal rejects before any request', async () => {
    const op = await provider()
    const resp = await getDeviceCode(op.deviceAuthorizationEndpoint, op.deviceClient.clientId)
    const reason = new Error('already gone')
    const { error } = await rejection(
      pollTokenEndpoint(resp, op.tokenEndpoint, op.deviceClient.clientId, {
        signal: AbortSignal.abort(reason),
      }),
    )
    expect(error).toBe(reason)
    expect(op.tokenRequests()).toBe(0)
  })

  test('expiry deadline: a short-lived device code ends in AuthenticationError expired_token', async () => {
    const op = await provider({ deviceCodeTtl: 2 })
    const { clientId } = op.deviceClient
    const resp = await getDeviceCode(op.deviceAuthorizationEndpoint, clientId, { scope: deviceScopes })
    expect(resp.expiresIn).toBeLessThanOrEqual(2)
    const started = performance.now()
    const { error, at } = await rejection(
      pollTokenEndpoint(withInterval(resp, 0.3), op.tokenEndpoint, clientId),
    )
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as AuthenticationError).error).toBe('expired_token')
    expect(op.tokenRequests()).toBeGreaterThanOrEqual(2)
    // It gives up at the deadline, not long after (generous for a loaded machine).
    expect(at - started).toBeLessThan(resp.expiresIn * 1000 + 1500)
  })

  test('expiry deadline on a real clock: stops once expiresIn has passed since the call', async () => {
    const s = await scripted({ '/token': (_req, res) => json(res, 400, { error: 'authorization_pending' }) })
    const resp = seedDevice({ expiresIn: 2, interval: 0.5 })
    const started = performance.now()
    const { error, at } = await rejection(pollTokenEndpoint(resp, `${s.url}/token`, 'abc123'))
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as AuthenticationError).error).toBe('expired_token')
    const requests = s.requests('/token')
    expect(requests.length).toBeGreaterThanOrEqual(2)
    expect(requests.length).toBeLessThanOrEqual(3)
    // Never a request after the deadline.
    for (const request of requests) expect(request.at - started).toBeLessThan(2000)
    expect(at - started).toBeLessThan(2000 + 1000)
  })
})

test.describe('slow_down', () => {
  test('adds 5 s to the interval for that and every later poll; never polls early', async () => {
    test.setTimeout(90_000)
    const s = await scripted({
      '/token': (_req, res, index) => {
        if (index === 0) return json(res, 400, { error: 'authorization_pending' })
        if (index === 1) return json(res, 400, { error: 'slow_down' })
        if (index === 2) return json(res, 400, { error: 'authorization_pending' })
        return json(res, 200, { access_token: 'abc', refresh_token: 'def', expires_in: 60 })
      },
    })
    const resp = seedDevice({ expiresIn: 600, interval: 0 })
    const pending: Array<{ attempt: number; interval: number }> = []
    const token = await pollTokenEndpoint(resp, `${s.url}/token`, 'abc123', {
      onPending: (i) => pending.push(i),
    })
    expect(token).toMatchObject({ accessToken: 'abc', refreshToken: 'def', expiresIn: 60 })
    expect(pending).toEqual([
      { attempt: 1, interval: 0 },
      { attempt: 2, interval: 5 },
      { attempt: 3, interval: 5 },
    ])
    const at = s.requests('/token').map((r) => r.at)
    expect(at).toHaveLength(4)
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0))
    test.info().annotations.push({
      type: 'gaps between polls',
      description: gaps.map((g) => `${g.toFixed(0)} ms`).join(', '),
    })
    // interval 0 before slow_down: the next poll follows at once.
    expect(gaps[0]).toBeLessThan(2000)
    // After slow_down: at least 0 + 5 s, for that and the next poll (never early), and not much more.
    expect(gaps[1]).toBeGreaterThanOrEqual(5000)
    expect(gaps[2]).toBeGreaterThanOrEqual(5000)
    expect(gaps[1]).toBeLessThan(8000)
    expect(gaps[2]).toBeLessThan(8000)
  })
})
