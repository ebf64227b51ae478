/**
 * Three defects found with shared sessions, each fixed with a test that fails on the code before:
 * a session's status retries, the poll back-off after network failures, and bearer tokens over plain http.
 * Plus: a refresh that fails for a reason other than invalid_grant keeps the stored refresh token.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import ky from 'ky'
import { DeviceCodeAuthenticator, DeviceCodeResponse, getToken, pollTokenEndpoint } from 'token-client'
import { fileStore, nodeAdapter } from 'token-client/node'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { authError, gaps, scriptedServers } from '../fixtures/hostile.ts'
import { listenOnLoopback } from '../fixtures/listen.ts'
import { startOidcProvider } from '../fixtures/oidc.ts'
import { json, type Route } from '../fixtures/scripted-server.ts'

const closedAfterTest = closeAfterEach(test)
const serve = scriptedServers(test)

const token: Route = (_req, res) => json(res, 200, { access_token: 'at-after-retry', expires_in: 60 })
const unavailable: Route = (_req, res) =>
  json(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' })

test.describe('a session whose retry lists status codes retries them', () => {
  const session = ky.create({ retry: { limit: 2, methods: ['post'], statusCodes: [503] } })

  for (const withAdapter of [false, true]) {
    test(`503 then 200: the token${withAdapter ? ' (with nodeAdapter)' : ''}, Retry-After honoured`, async () => {
      const s = await serve({ '/token': (req, res, i) => (i === 0 ? unavailable : token)(req, res, i) })
      const result = await getToken(`${s.url}/token`, {
        session,
        ...(withAdapter ? { adapter: nodeAdapter } : {}),
      })
      expect(result.accessToken).toBe('at-after-retry')
      const times = s.requests('/token').map((r) => r.at)
      expect(times).toHaveLength(2)
      expect(gaps(times)[0]).toBeGreaterThanOrEqual(990)
    })
  }

  test('only the final answer is interpreted: three 503s are one AuthenticationError with the OAuth fields', async () => {
    const s = await serve({
      '/token': (_req, res) => json(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '0' }),
    })
    const err = await authError(getToken(`${s.url}/token`, { session }))
    expect(s.requests('/token')).toHaveLength(3)
    expect(err.status).toBe(503)
    expect(err.error).toBe('temporarily_unavailable')
    expect(err.retryAfter).toBe(0)
  })

  test('an OAuth error of a status not listed is not retried and reads as usual', async () => {
    const s = await serve({
      '/token': (_req, res) => json(res, 400, { error: 'invalid_grant', error_description: 'expired' }),
    })
    const err = await authError(getToken(`${s.url}/token`, { session }))
    expect(s.requests('/token')).toHaveLength(1)
    expect(err.error).toBe('invalid_grant')
    expect(err.errorDescription).toBe('expired')
  })

  test('without a session nothing is retried (credentialed requests)', async () => {
    const s = await serve({ '/token': (req, res, i) => (i === 0 ? unavailable : token)(req, res, i) })
    const err = await authError(getToken(`${s.url}/token`))
    expect(err.status).toBe(503)
    expect(s.requests('/token')).toHaveLength(1)
  })
})

test('after network failures the poll goes back to its interval once the server answers (RFC 8628 §3.5)', async () => {
  const destroy: Route = (req) => void req.socket.destroy()
  const pending: Route = (_req, res) => json(res, 400, { error: 'authorization_pending' })
  const steps = [destroy, destroy, pending, pending, token]
  const s = await serve({
    '/token': (req, res, i) => (steps[Math.min(i, steps.length - 1)] as Route)(req, res, i),
  })
  const device = new DeviceCodeResponse({
    deviceCode: 'dc',
    userCode: 'U',
    verificationUri: 'https://idp.example/device',
    expiresIn: 60,
    interval: 0.4,
  })
  await pollTokenEndpoint(device, `${s.url}/token`, 'cli')
  const [afterFirst, afterSecond, afterAnswer, afterPending] = gaps(s.requests('/token').map((r) => r.at))
  // Doubling within the streak of failures: 0.8 s, then 1.6 s.
  expect(afterFirst).toBeGreaterThanOrEqual(800)
  expect(afterSecond).toBeGreaterThanOrEqual(1600)
  // The server answered: back to the 0.4 s interval (the old code kept 1.6 s for good).
  expect(afterAnswer).toBeGreaterThanOrEqual(400)
  expect(afterAnswer).toBeLessThan(1000)
  expect(afterPending).toBeLessThan(1000)
})

test.describe('authenticator.fetch sends bearer tokens only over TLS (RFC 6750 §5.3)', () => {
  async function signedIn(allowInsecureHttp?: boolean): Promise<DeviceCodeAuthenticator> {
    const s = await serve({
      '/device': (_req, res) =>
        json(res, 200, {
          device_code: 'dc',
          user_code: 'U',
          verification_uri: 'https://v.example',
          expires_in: 60,
          interval: 0,
        }),
      '/token': (_req, res) => json(res, 200, { access_token: 'at-secret-value', expires_in: 300 }),
    })
    return new DeviceCodeAuthenticator({
      tokenEndpoint: `${s.url}/token`,
      deviceAuthorizationEndpoint: `${s.url}/device`,
      clientId: 'cli',
      onDeviceCode: () => {},
      ...(allowInsecureHttp === undefined ? {} : { allowInsecureHttp }),
    })
  }

  test('http:// to a remote host is a TypeError that says how to opt in, before any token request', async () => {
    const auth = await signedIn()
    const err = await auth.fetch('http://api.example/items').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TypeError)
    expect((err as Error).message).toMatch(/https.*allowInsecureHttp/s)
    expect((err as Error).message).not.toContain('at-secret-value')
  })

  test('loopback http and allowInsecureHttp are allowed', async () => {
    const api = await serve({ '/items': (req, res) => json(res, 200, { auth: req.headers.authorization }) })
    const auth = await signedIn()
    const res = await auth.fetch(`${api.url}/items`)
    expect(await res.json()).toEqual({ auth: 'Bearer at-secret-value' })
    // An IPv4-mapped IPv6 address is not on the loopback list, yet reaches this machine: no traffic leaves it.
    const mapped = `http://[::ffff:127.0.0.1]:${api.port}/items`
    await expect(auth.fetch(mapped)).rejects.toBeInstanceOf(TypeError)
    const insecure = await signedIn(true)
    expect(await (await insecure.fetch(mapped)).json()).toEqual({ auth: 'Bearer at-secret-value' })
  })

  test('a redirect to another origin does not carry the token', async () => {
    const target = await serve({
      '/landing': (req, res) => json(res, 200, { auth: req.headers.authorization ?? null }),
    })
    const redirector = await serve({
      '/items': (_req, res) => {
        // 127.0.0.1 → localhost: another origin on the same machine.
        res.writeHead(302, { location: `http://localhost:${target.port}/landing` })
        res.end()
      },
    })
    const auth = await signedIn()
    const res = await auth.fetch(`${redirector.url}/items`)
    expect(await res.json()).toEqual({ auth: null })
    expect(redirector.requests('/items')[0]?.headers.authorization).toBe('Bearer at-secret-value')
  })
})

test.describe('a refresh that fails with 503, a reset or a timeout keeps the stored refresh token', () => {
  for (const failure of ['503', 'reset', 'timeout'] as const) {
    test(failure, async () => {
      const op = closedAfterTest(await startOidcProvider({ deviceInterval: 1 }))
      // A front for the provider's token endpoint: fails once as scripted, then forwards.
      let mode: 'fail' | 'forward' = 'forward'
      const front = http.createServer((req, res) => {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', async () => {
          if (mode === 'fail') {
            if (failure === '503') return json(res, 503, { error: 'temporarily_unavailable' })
            if (failure === 'reset') return req.socket.destroy()
            return // timeout: never answers
          }
          const answer = await fetch(op.tokenEndpoint, {
            method: 'POST',
            headers: { 'content-type': String(req.headers['content-type']) },
            body: Buffer.concat(chunks),
          })
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'application/json',
          })
          res.end(await answer.text())
        })
      })
      const port = await listenOnLoopback(front)
      closedAfterTest({
        close: () =>
          new Promise<void>((resolve) => {
            front.close(() => resolve())
            front.closeAllConnections()
          }),
      })
      const dir = await mkdtemp(join(tmpdir(), 'token-client-refresh-'))
      closedAfterTest({ close: () => rm(dir, { recursive: true, force: true }) })
      const storePath = join(dir, 'token.json')
      const make = (): DeviceCodeAuthenticator =>
        new DeviceCodeAuthenticator({
          tokenEndpoint: `http://127.0.0.1:${port}/token`,
          deviceAuthorizationEndpoint: op.deviceAuthorizationEndpoint,
          clientId: op.deviceClient.clientId,
          scopes: ['openid', 'offline_access', 'api:read'],
          store: fileStore(storePath),
          timeout: 500,
          onDeviceCode: (code) => op.approve(code.userCode),
        })
      const auth = make()
      await auth.getAccessToken()
      await auth.invalidate()
      const before = JSON.parse(await readFile(storePath, 'utf8')) as { refreshToken: string }

      mode = 'fail'
      const err = await authError(auth.getAccessToken())
      expect(err.error).not.toBe('invalid_grant')
      const after = JSON.parse(await readFile(storePath, 'utf8')) as { refreshToken: string }
      expect(after.refreshToken).toBe(before.refreshToken)

      mode = 'forward'
      const requests = op.tokenRequests()
      const fresh = await make().getAccessToken()
      expect(op.tokenRequests() - requests, 'one refresh, no new device flow').toBe(1)
      expect(await op.provider.AccessToken.find(fresh)).toBeTruthy()
    })
  }
})
