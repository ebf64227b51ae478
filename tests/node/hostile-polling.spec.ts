/**
 * The polling loop (RFC 8628 §3.4–3.5) against a scripted server that records when each request arrived:
 * slow_down gaps, Retry-After, network failures, terminal errors, the deadline and aborts. Gaps are asserted
 * never to be early (the rule), with generous upper bounds (the machine is shared).
 */
import { expect, test } from '@playwright/test'
import { AuthenticationError, DeviceCodeResponse, pollTokenEndpoint } from 'token-client'
import {
  authError,
  failOnUnhandledRejections,
  gaps,
  rejection,
  scriptedServers,
} from '../fixtures/hostile.ts'
import { json, type Route, type ScriptedServer, text } from '../fixtures/scripted-server.ts'

failOnUnhandledRejections(test)

const serve = scriptedServers(test)

/** Serves `/token` from a list of behaviours, one per request (the last one repeats). */
async function scripted(steps: Route[]): Promise<ScriptedServer> {
  return serve({
    '/token': (req, res, i) => (steps[Math.min(i, steps.length - 1)] as Route)(req, res, i),
  })
}

function device(interval: number, expiresIn = 120): DeviceCodeResponse {
  return new DeviceCodeResponse({
    deviceCode: 'dc-poll-test',
    userCode: 'ABCD-EFGH',
    verificationUri: 'https://idp.example/device',
    expiresIn,
    interval,
  })
}

const pending: Route = (_req, res) => json(res, 400, { error: 'authorization_pending' })
const token: Route = (_req, res) => json(res, 200, { access_token: 'at-polled', expires_in: 60 })
const destroy: Route = (req) => void req.socket.destroy()
const silent: Route = () => {}

function times(server: ScriptedServer): number[] {
  return server.requests('/token').map((r) => r.at)
}

test.describe('slow_down', () => {
  test('adds 5 s for that and every later request (a smaller server interval does not lower it)', async () => {
    const s = await scripted([
      (_req, res) => json(res, 400, { error: 'slow_down', interval: 1 }),
      pending,
      token,
    ])
    const seen: Array<{ attempt: number; interval: number }> = []
    const result = await pollTokenEndpoint(device(0), `${s.url}/token`, 'cli', {
      onPending: (i) => seen.push(i),
    })
    expect(result.accessToken).toBe('at-polled')
    const [first, second] = gaps(times(s))
    expect(first).toBeGreaterThanOrEqual(5000)
    expect(second).toBeGreaterThanOrEqual(5000)
    // Pending does not add again: the second gap stays near 5 s, far from 10.
    expect(second).toBeLessThan(9000)
    expect(seen).toEqual([
      { attempt: 1, interval: 5 },
      { attempt: 2, interval: 5 },
    ])
    // Every poll carries the device grant.
    for (const r of s.requests('/token')) {
      expect(r.form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:device_code')
      expect(r.form.get('device_code')).toBe('dc-poll-test')
      expect(r.form.get('client_id')).toBe('cli')
    }
  })

  test('a new interval larger than interval + 5 (sent as a numeric string) is used', async () => {
    const s = await scripted([(_req, res) => json(res, 400, { error: 'slow_down', interval: '6' }), token])
    const seen: number[] = []
    await pollTokenEndpoint(device(0), `${s.url}/token`, 'cli', { onPending: (i) => seen.push(i.interval) })
    const [gap] = gaps(times(s))
    expect(gap).toBeGreaterThanOrEqual(6000)
    expect(seen).toEqual([6])
  })
})

test.describe('429 and 503 with Retry-After', () => {
  test('waits max(Retry-After, interval) and goes on: seconds and HTTP dates', async () => {
    const s = await scripted([
      (_req, res) => {
        res.writeHead(429, { 'retry-after': '0', 'content-type': 'text/html' })
        res.end('<h1>Too Many Requests</h1>')
      },
      (_req, res) => json(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '2' }),
      (_req, res) => {
        res.writeHead(429, { 'retry-after': new Date(Date.now() + 2000).toUTCString(), 'content-length': 0 })
        res.end()
      },
      token,
    ])
    const result = await pollTokenEndpoint(device(1), `${s.url}/token`, 'cli')
    expect(result.accessToken).toBe('at-polled')
    const [afterZero, afterTwo, afterDate] = gaps(times(s))
    expect(afterZero).toBeGreaterThanOrEqual(1000) // Retry-After 0 < interval 1
    expect(afterTwo).toBeGreaterThanOrEqual(2000) // Retry-After 2 > interval 1
    // An HTTP date has whole seconds: 2 s ahead is at least 1 s.
    expect(afterDate).toBeGreaterThanOrEqual(1000)
  })

  test('a Retry-After past the deadline ends the poll with expired_token, not a late request', async () => {
    const s = await scripted([
      (_req, res) => json(res, 429, { error: 'rate_limited' }, { 'retry-after': '120' }),
    ])
    const t0 = performance.now()
    const err = await authError(pollTokenEndpoint(device(0, 3), `${s.url}/token`, 'cli'))
    expect(err.error).toBe('expired_token')
    expect(performance.now() - t0).toBeLessThan(3000)
    expect(s.requests('/token')).toHaveLength(1)
  })
})

test.describe('the deadline', () => {
  test('always pending: expired_token once expiresIn has passed, no request after it', async () => {
    const s = await scripted([pending])
    const t0 = performance.now()
    const err = await authError(pollTokenEndpoint(device(0.25, 1.5), `${s.url}/token`, 'cli'))
    const elapsed = performance.now() - t0
    expect(err.error).toBe('expired_token')
    expect(err.message).toMatch(/expired/)
    expect(elapsed).toBeLessThan(1500 + 500)
    const requests = times(s)
    expect(requests.length).toBeGreaterThanOrEqual(3)
    for (const at of requests) expect(at - t0).toBeLessThan(1500)
    for (const gap of gaps(requests)) expect(gap).toBeGreaterThanOrEqual(250)
  })
})

test.describe('network failures', () => {
  test('3 in a row are retried, the interval doubling each time (RFC 8628 §3.5); the 4th ends it, the last error as cause', async () => {
    const s = await scripted([destroy])
    const err = await authError(pollTokenEndpoint(device(0.5), `${s.url}/token`, 'cli'))
    expect(s.requests('/token')).toHaveLength(4)
    const observed = gaps(times(s))
    expect(observed).toHaveLength(3)
    observed.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(500 * 2 ** (i + 1))
      expect(gap).toBeLessThan(500 * 2 ** (i + 1) + 1500)
    })
    expect(err.message).toMatch(/4 times in a row/)
    expect(err.cause).toBeInstanceOf(AuthenticationError)
    const last = err.cause as AuthenticationError
    expect(last.message).toMatch(/Could not reach the token endpoint/)
    expect(last.cause).toBeInstanceOf(Error)
  })

  test('the count restarts after an answer: 3 failures, pending, 3 failures, token → the token', async () => {
    const s = await scripted([destroy, destroy, destroy, pending, destroy, destroy, destroy, token])
    const result = await pollTokenEndpoint(device(0), `${s.url}/token`, 'cli')
    expect(result.accessToken).toBe('at-polled')
    expect(s.requests('/token')).toHaveLength(8)
  })

  test('timeouts count as network failures', async () => {
    const s = await scripted([silent, silent, token])
    const result = await pollTokenEndpoint(device(0), `${s.url}/token`, 'cli', { timeout: 300 })
    expect(result.accessToken).toBe('at-polled')
    expect(s.requests('/token')).toHaveLength(3)
  })

  test('a 502 page after a network failure ends it at once', async () => {
    const s = await scripted([
      destroy,
      (_req, res) => text(res, 502, '<h1>Bad Gateway</h1>', 'text/html'),
      token,
    ])
    const err = await authError(pollTokenEndpoint(device(0), `${s.url}/token`, 'cli'))
    expect(err.status).toBe(502)
    expect(s.requests('/token')).toHaveLength(2)
  })
})

test.describe('terminal errors end the poll at once', () => {
  for (const [error, status] of [
    ['access_denied', 400],
    ['expired_token', 400],
    ['invalid_grant', 400],
    ['some_future_error', 400],
    ['access_denied', 200],
    ['invalid_client', 401],
    // A terminal error is terminal whatever the status: not retried as rate limiting (RFC 8628 §3.5).
    ['access_denied', 429],
    ['expired_token', 503],
  ] as const) {
    test(`${error} with HTTP ${status}: one request`, async () => {
      const s = await scripted([
        (_req, res) => json(res, status, { error, error_description: `said ${error}` }),
      ])
      const t0 = performance.now()
      const err = await authError(pollTokenEndpoint(device(0), `${s.url}/token`, 'cli'))
      expect(performance.now() - t0).toBeLessThan(2000)
      expect(err.error).toBe(error)
      expect(err.status).toBe(status)
      expect(err.errorDescription).toBe(`said ${error}`)
      expect(s.requests('/token')).toHaveLength(1)
    })
  }

  test('an invalid token answer (200 without access_token) ends it too', async () => {
    const s = await scripted([(_req, res) => json(res, 200, { token_type: 'Bearer' })])
    const err = await authError(pollTokenEndpoint(device(0), `${s.url}/token`, 'cli'))
    expect(err.message).toContain('access_token')
    expect(s.requests('/token')).toHaveLength(1)
  })
})

test('an invalid timeout is a TypeError at once, not after the first interval', async () => {
  const s = await scripted([(_req, res) => json(res, 400, { error: 'authorization_pending' })])
  for (const timeout of [-1, Number.NaN]) {
    const t0 = performance.now()
    const err = await rejection(pollTokenEndpoint(device(5), `${s.url}/token`, 'cli', { timeout }))
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(err).toBeInstanceOf(TypeError)
    expect((err as TypeError).message).toContain('timeout must be a non-negative number')
  }
  expect(s.requests('/token')).toEqual([])
})

test('a plain object is validated: without expiresIn it is an AuthenticationError, not a poll without end', async () => {
  const s = await scripted([(_req, res) => json(res, 200, { access_token: 'at', expires_in: 60 })])
  const plain = { deviceCode: 'dc-plain-0123', userCode: 'ABCD-EFGH', verificationUri: 'url', interval: 0 }
  const err = await authError(
    pollTokenEndpoint(plain as unknown as DeviceCodeResponse, `${s.url}/token`, 'cli'),
  )
  expect(err.message).toContain('expiresIn')
  expect(s.requests('/token')).toEqual([])
  const token = await pollTokenEndpoint(
    { ...plain, expiresIn: 60 } as unknown as DeviceCodeResponse,
    `${s.url}/token`,
    'cli',
  )
  expect(token.accessToken).toBe('at')
  expect(s.requests('/token')[0]?.form.get('device_code')).toBe('dc-plain-0123')
})

test.describe('abort', () => {
  test('during the wait: rejects with the reason at once', async () => {
    const s = await scripted([pending])
    const controller = new AbortController()
    const reason = new Error('user cancelled')
    const promise = pollTokenEndpoint(device(30), `${s.url}/token`, 'cli', { signal: controller.signal })
    setTimeout(() => controller.abort(reason), 100)
    const t0 = performance.now()
    expect(await rejection(promise)).toBe(reason)
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(s.requests('/token')).toHaveLength(0)
  })

  test('during a request: rejects with the reason at once, not a timeout or network error', async () => {
    const s = await scripted([silent])
    const controller = new AbortController()
    const reason = new Error('user cancelled')
    const promise = pollTokenEndpoint(device(0), `${s.url}/token`, 'cli', { signal: controller.signal })
    setTimeout(() => controller.abort(reason), 200)
    const t0 = performance.now()
    expect(await rejection(promise)).toBe(reason)
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(s.requests('/token')).toHaveLength(1)
  })

  test('an already aborted signal: no request, the reason', async () => {
    const s = await scripted([token])
    const err = await rejection(
      pollTokenEndpoint(device(0), `${s.url}/token`, 'cli', { signal: AbortSignal.abort('stop') }),
    )
    expect(err).toBe('stop')
    expect(s.requests('/token')).toHaveLength(0)
  })
})
