/**
 * Hostile servers, one behaviour per path of a scripted node:http server on 127.0.0.1: malformed bodies,
 * servers that bend the RFCs, redirects, huge bodies, resets and silence. Every failure must be an
 * AuthenticationError (or AuthenticationPending where the RFC says pending), never a TypeError, SyntaxError or
 * RangeError from inside the library, and never an unhandled rejection.
 */
import { gzipSync } from 'node:zlib'
import { expect, test } from '@playwright/test'
import {
  type AuthenticationError,
  AuthenticationPending,
  DeviceCodeResponse,
  getDeviceCode,
  getToken,
} from 'token-client'
import {
  authError,
  failOnUnhandledRejections,
  rejection,
  scriptedServers,
  writeHugeBody,
} from '../fixtures/hostile.ts'
import { json, text } from '../fixtures/scripted-server.ts'

failOnUnhandledRejections(test)

const serve = scriptedServers(test)

const validToken = { access_token: 'at-valid', token_type: 'Bearer', expires_in: 60 }
const validDevice = {
  device_code: 'dc-valid',
  user_code: 'WDJB-MJHT',
  verification_uri: 'https://idp.example/device',
  expires_in: 600,
  interval: 5,
}

test.describe('malformed token responses', () => {
  test('an HTML 502 page: AuthenticationError with status 502, the page not echoed', async () => {
    const s = await serve({
      '/t': (_req, res) =>
        text(res, 502, '<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>', 'text/html'),
    })
    const err = await authError(getToken(`${s.url}/t`))
    expect(err.status).toBe(502)
    expect(err.error).toBeUndefined()
    expect(err.message).toContain('HTTP 502')
    expect(err.message).toContain('text/html')
    expect(err.message).not.toContain('<h1>')
  })

  test('200 with a non-JSON body', async () => {
    const s = await serve({ '/t': (_req, res) => text(res, 200, '<html>Welcome!</html>', 'text/html') })
    const err = await authError(getToken(`${s.url}/t`))
    expect(err.status).toBe(200)
    expect(err.message).toMatch(/neither JSON nor form-encoded/)
  })

  test('200 JSON without access_token names the field', async () => {
    const s = await serve({ '/t': (_req, res) => json(res, 200, { token_type: 'Bearer', expires_in: 60 }) })
    const err = await authError(getToken(`${s.url}/t`))
    expect(err.status).toBe(200)
    expect(err.message).toContain('access_token')
  })

  for (const [name, value] of [
    ['a number', 42],
    ['null', null],
    ['an object', { value: 'x' }],
    ['an array', ['x']],
    ['an empty string', ''],
    ['true', true],
  ] as const) {
    test(`access_token as ${name} is refused`, async () => {
      const s = await serve({ '/t': (_req, res) => json(res, 200, { access_token: value, expires_in: 60 }) })
      const err = await authError(getToken(`${s.url}/t`))
      expect(err.status).toBe(200)
      expect(err.message).toContain('access_token')
    })
  }

  test('non-object JSON bodies (array, string, number, null) are refused', async () => {
    const bodies = ['[]', '"at-valid"', '42', 'null', '[{"access_token":"x"}]']
    const s = await serve({ '/t': (_req, res, i) => text(res, 200, bodies[i] ?? '', 'application/json') })
    for (const _ of bodies) {
      const err = await authError(getToken(`${s.url}/t`))
      expect(err.status).toBe(200)
    }
  })

  test('an empty body, with and without a JSON content type, and a 204', async () => {
    const s = await serve({
      '/json': (_req, res) => text(res, 200, '', 'application/json'),
      '/none': (_req, res) => {
        res.writeHead(200, { 'content-length': 0 })
        res.end()
      },
      '/chunked': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end()
      },
      '/204': (_req, res) => {
        res.writeHead(204)
        res.end()
      },
    })
    for (const path of ['/json', '/none', '/chunked']) {
      const err = await authError(getToken(`${s.url}${path}`))
      expect(err.status).toBe(200)
      expect(err.message).toContain('empty body')
    }
    const err = await authError(getToken(`${s.url}/204`))
    expect(err.status).toBe(204)
  })

  test('truncated JSON is an AuthenticationError, not a SyntaxError', async () => {
    const s = await serve({
      '/t': (_req, res) => text(res, 200, '{"access_token": "at-va', 'application/json'),
    })
    const err = await authError(getToken(`${s.url}/t`))
    expect(err.cause).toBeUndefined()
  })
})

test.describe('expires_in', () => {
  const cases: Array<[string, unknown, number | undefined]> = [
    ['a number', 3600, 3600],
    ['a numeric string', '3600', 3600],
    ['a numeric string with spaces', ' 60 ', 60],
    ['a fractional string', '1.5', 1.5],
    ['"soon"', 'soon', undefined],
    ['negative', -5, undefined],
    ['a negative string', '-5', undefined],
    ['null', null, undefined],
    ['a boolean', true, undefined],
    ['an exponent string', '1e3', undefined],
    ['400 digits (Infinity as a number)', '9'.repeat(400), undefined],
  ]
  for (const [name, value, expected] of cases) {
    test(`${name} → ${expected}`, async () => {
      const s = await serve({
        '/t': (_req, res) => json(res, 200, { access_token: 'at-valid', expires_in: value }),
      })
      const token = await getToken(`${s.url}/t`)
      expect(token.accessToken).toBe('at-valid')
      expect(token.expiresIn).toBe(expected)
      expect(token.raw.expires_in).toEqual(value)
    })
  }

  test('missing → undefined (RFC 6749 §5.1 only recommends it)', async () => {
    const s = await serve({ '/t': (_req, res) => json(res, 200, { access_token: 'at-valid' }) })
    const token = await getToken(`${s.url}/t`)
    expect(token.accessToken).toBe('at-valid')
    expect(token.expiresIn).toBeUndefined()
    expect('expiresIn' in token).toBe(false)
  })
})

test.describe('OAuth error answers', () => {
  test('error, error_description and error_uri: all three on the error and in its message', async () => {
    const body = {
      error: 'invalid_scope',
      error_description: 'The scope "admin" is not allowed for this client',
      error_uri: 'https://idp.example/docs/errors#invalid_scope',
    }
    const s = await serve({
      '/t': (_req, res) => json(res, 400, body),
      '/d': (_req, res) => json(res, 400, body),
    })
    for (const call of [() => getToken(`${s.url}/t`), () => getDeviceCode(`${s.url}/d`, 'cli')]) {
      const err = await authError(call())
      expect(err.status).toBe(400)
      expect(err.error).toBe(body.error)
      expect(err.errorDescription).toBe(body.error_description)
      expect(err.errorUri).toBe(body.error_uri)
      expect(err.message).toContain('HTTP 400')
      expect(err.message).toContain(body.error)
      expect(err.message).toContain(body.error_description)
      expect(err.message).toContain(body.error_uri)
    }
  })

  test('error fields that are not strings are left out, the code still counts', async () => {
    const s = await serve({
      '/t': (_req, res) =>
        json(res, 400, { error: 'invalid_grant', error_description: 42, error_uri: { a: 1 } }),
    })
    const err = await authError(getToken(`${s.url}/t`))
    expect(err.error).toBe('invalid_grant')
    expect(err.errorDescription).toBeUndefined()
    expect(err.errorUri).toBeUndefined()
  })

  test('an error body sent with HTTP 200 (GitHub) is an error, not a token', async () => {
    const s = await serve({
      '/denied': (_req, res) =>
        json(res, 200, {
          error: 'access_denied',
          error_description: 'The user denied',
          access_token: 'at-no',
        }),
      '/pending': (_req, res) => json(res, 200, { error: 'authorization_pending' }),
    })
    const err = await authError(getToken(`${s.url}/denied`))
    expect(err.status).toBe(200)
    expect(err.error).toBe('access_denied')
    expect(err.errorDescription).toBe('The user denied')

    const pending = await rejection(getToken(`${s.url}/pending`))
    expect(pending).toBeInstanceOf(AuthenticationPending)
    expect((pending as AuthenticationPending).error).toBe('authorization_pending')
    expect((pending as AuthenticationPending).status).toBe(200)
  })

  for (const status of [400, 401, 403, 428]) {
    test(`authorization_pending with HTTP ${status} still means pending`, async () => {
      const s = await serve({ '/t': (_req, res) => json(res, status, { error: 'authorization_pending' }) })
      const pending = await rejection(getToken(`${s.url}/t`))
      expect(pending).toBeInstanceOf(AuthenticationPending)
      expect((pending as AuthenticationPending).error).toBe('authorization_pending')
      expect((pending as AuthenticationPending).status).toBe(status)
    })
  }

  test('slow_down carrying a new interval, as a number or a numeric string', async () => {
    const bodies = [
      { error: 'slow_down', interval: 12 },
      { error: 'slow_down', interval: '12' },
      { error: 'slow_down' },
    ]
    const s = await serve({ '/t': (_req, res, i) => json(res, 400, bodies[i]) })
    for (const expected of [12, 12, undefined]) {
      const pending = await rejection(getToken(`${s.url}/t`))
      expect(pending).toBeInstanceOf(AuthenticationPending)
      expect((pending as AuthenticationPending).error).toBe('slow_down')
      expect((pending as AuthenticationPending).interval).toBe(expected)
    }
  })

  test('a device endpoint answering authorization_pending is an error, not pending', async () => {
    const s = await serve({ '/d': (_req, res) => json(res, 400, { error: 'authorization_pending' }) })
    const err = await authError(getDeviceCode(`${s.url}/d`, 'cli'))
    expect(err.error).toBe('authorization_pending')
  })

  test('an error with a non-JSON 4xx body and a JSON 5xx body without error', async () => {
    const s = await serve({
      '/html': (_req, res) => text(res, 401, 'Unauthorized', 'text/plain'),
      '/json': (_req, res) => json(res, 500, { message: 'internal' }),
    })
    const html = await authError(getToken(`${s.url}/html`))
    expect(html.status).toBe(401)
    expect(html.error).toBeUndefined()
    const internal = await authError(getToken(`${s.url}/json`))
    expect(internal.status).toBe(500)
    expect(internal.message).toMatch(/try again later/)
  })
})

test.describe('bodies in other shapes', () => {
  test('a form-encoded token response (GitHub without a JSON Accept) is parsed', async () => {
    const s = await serve({
      '/t': (_req, res) =>
        text(
          res,
          200,
          'access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer&expires_in=28800',
          'application/x-www-form-urlencoded; charset=utf-8',
        ),
    })
    const token = await getToken(`${s.url}/t`)
    expect(token.accessToken).toBe('gho_16C7e42F292c6912E7710c838347Ae178B4a')
    expect(token.scope).toBe('repo,gist')
    expect(token.tokenType).toBe('bearer')
    expect(token.expiresIn).toBe(28800)
  })

  test('a form-encoded pending answer and a form-encoded error', async () => {
    const s = await serve({
      '/pending': (_req, res) =>
        text(
          res,
          200,
          'error=authorization_pending&error_description=pending',
          'application/x-www-form-urlencoded',
        ),
      '/denied': (_req, res) =>
        text(
          res,
          200,
          'error=access_denied&error_description=The+user+said+no&error_uri=https%3A%2F%2Fgithub.com%2Fdocs',
          'application/x-www-form-urlencoded',
        ),
    })
    expect(await rejection(getToken(`${s.url}/pending`))).toBeInstanceOf(AuthenticationPending)
    const err = await authError(getToken(`${s.url}/denied`))
    expect(err.error).toBe('access_denied')
    expect(err.errorDescription).toBe('The user said no')
    expect(err.errorUri).toBe('https://github.com/docs')
  })

  test('JSON served as text/plain, as text/html, with no content type, and with a BOM', async () => {
    const body = JSON.stringify(validToken)
    const s = await serve({
      '/plain': (_req, res) => text(res, 200, body, 'text/plain'),
      '/html': (_req, res) => text(res, 200, body, 'text/html; charset=iso-8859-1'),
      '/none': (_req, res) => {
        res.writeHead(200, { 'content-length': Buffer.byteLength(body) })
        res.end(body)
      },
      '/bom': (_req, res) => text(res, 200, `\uFEFF${body}`, 'application/json; charset=utf-8'),
    })
    for (const path of ['/plain', '/html', '/none', '/bom']) {
      const token = await getToken(`${s.url}${path}`)
      expect(token.accessToken).toBe('at-valid')
      expect(token.expiresIn).toBe(60)
    }
  })

  test('a device response with verification_url (Google) and no interval → interval 5', async () => {
    const { verification_uri, interval, ...rest } = validDevice
    const s = await serve({
      '/d': (_req, res) => json(res, 200, { ...rest, verification_url: 'https://www.google.com/device' }),
    })
    const resp = await getDeviceCode(`${s.url}/d`, 'cli')
    expect(resp).toBeInstanceOf(DeviceCodeResponse)
    expect(resp.verificationUri).toBe('https://www.google.com/device')
    expect(resp.interval).toBe(5)
    expect(resp.deviceCode).toBe('dc-valid')
    expect(resp.expiresIn).toBe(600)
  })

  test('a device response with interval and expires_in as numeric strings, as text/plain', async () => {
    const s = await serve({
      '/d': (_req, res) =>
        text(res, 200, JSON.stringify({ ...validDevice, interval: '7', expires_in: '1800' }), 'text/plain'),
    })
    const resp = await getDeviceCode(`${s.url}/d`, 'cli')
    expect(resp.interval).toBe(7)
    expect(resp.expiresIn).toBe(1800)
  })

  test('a device response form-encoded', async () => {
    const s = await serve({
      '/d': (_req, res) =>
        text(
          res,
          200,
          new URLSearchParams({ ...validDevice, expires_in: '900', interval: '5' }).toString(),
          'application/x-www-form-urlencoded',
        ),
    })
    const resp = await getDeviceCode(`${s.url}/d`, 'cli')
    expect(resp.userCode).toBe('WDJB-MJHT')
    expect(resp.expiresIn).toBe(900)
  })

  test('invalid device responses are AuthenticationErrors naming the field', async () => {
    const { verification_uri, ...noUri } = validDevice
    const bodies: Array<[unknown, string]> = [
      [noUri, 'verification_uri'],
      [{ ...validDevice, device_code: 7 }, 'device_code'],
      [{ ...validDevice, user_code: '' }, 'user_code'],
      [{ ...validDevice, expires_in: 'soon' }, 'expires_in'],
      [{ ...validDevice, interval: -1 }, 'interval'],
      [[validDevice], 'device_code'],
      ['a string', 'object'],
    ]
    const s = await serve({ '/d': (_req, res, i) => json(res, 200, bodies[i]?.[0]) })
    for (const [, field] of bodies) {
      const err = await authError(getDeviceCode(`${s.url}/d`, 'cli'))
      expect(err.status).toBe(200)
      expect(err.message.toLowerCase()).toContain(field)
    }
  })
})

test.describe('redirects are never followed', () => {
  for (const status of [301, 302, 303, 307, 308]) {
    test(`HTTP ${status} from the token and device endpoints: the target receives nothing`, async () => {
      const target = await serve({
        '/landing': (_req, res) => json(res, 200, { ...validToken, ...validDevice }),
      })
      const s = await serve({
        '/t': (_req, res) => {
          res.writeHead(status, { location: `${target.url}/landing`, 'content-length': 0 })
          res.end()
        },
        '/relative': (_req, res) => {
          res.writeHead(status, { location: '/landing-here', 'content-type': 'text/html' })
          res.end('<a href="/landing-here">moved</a>')
        },
        '/landing-here': (_req, res) => json(res, 200, { ...validToken, ...validDevice }),
      })
      const calls = [
        () => getToken(`${s.url}/t`, { authorizationHeader: 'Basic Y2xpOnNlY3JldA==', clientId: 'cli' }),
        () => getDeviceCode(`${s.url}/t`, 'cli'),
        () => getToken(`${s.url}/relative`, { authorizationHeader: 'Basic Y2xpOnNlY3JldA==' }),
        () => getDeviceCode(`${s.url}/relative`, 'cli'),
      ]
      for (const call of calls) {
        const err = await authError(call())
        expect(err.status).toBe(status)
        expect(err.message).toContain(`HTTP ${status}`)
        expect(err.message).toMatch(/redirect/)
      }
      expect(target.requests()).toEqual([])
      expect(s.requests('/landing-here')).toEqual([])
      expect(s.requests('/t')).toHaveLength(2)
    })
  }
})

const twentyMiB = 20 * 1024 * 1024
const tokenPrefix = '{"access_token":"at-huge","pad":"'
const tokenSuffix = '"}'

test.describe('huge bodies are refused without being buffered whole', () => {
  test('20 MiB with Content-Length: refused at once, the server could write only a fraction', async () => {
    let outcome: Promise<{ written: number; aborted: boolean }> | undefined
    const s = await serve({
      '/huge': (_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': tokenPrefix.length + twentyMiB + tokenSuffix.length,
        })
        outcome = writeHugeBody(res, twentyMiB, { prefix: tokenPrefix, suffix: tokenSuffix })
      },
      '/ok': (_req, res) => json(res, 200, validToken),
    })
    const err = await authError(getToken(`${s.url}/huge`))
    expect(err.status).toBe(200)
    expect(err.message).toMatch(/over 1 MiB/)
    const { written, aborted } = await (outcome as Promise<{ written: number; aborted: boolean }>)
    expect(aborted).toBe(true)
    // The kernel's socket buffers take a few MiB; a client reading the whole body would have taken all 20.
    expect(written).toBeLessThan(8 * 1024 * 1024)
    // The process is fine: the same server answers the next request.
    expect((await getToken(`${s.url}/ok`)).accessToken).toBe('at-valid')
  })

  test('20 MiB chunked (no Content-Length): refused after about 1 MiB', async () => {
    let outcome: Promise<{ written: number; aborted: boolean }> | undefined
    const s = await serve({
      '/huge': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        outcome = writeHugeBody(res, twentyMiB, { prefix: tokenPrefix, suffix: tokenSuffix })
      },
      '/ok': (_req, res) => json(res, 200, validToken),
    })
    const heapBefore = process.memoryUsage().arrayBuffers
    const err = await authError(getToken(`${s.url}/huge`))
    expect(err.message).toMatch(/over 1 MiB/)
    const { written, aborted } = await (outcome as Promise<{ written: number; aborted: boolean }>)
    expect(aborted).toBe(true)
    expect(written).toBeLessThan(8 * 1024 * 1024)
    expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(16 * 1024 * 1024)
    expect((await getToken(`${s.url}/ok`)).accessToken).toBe('at-valid')
  })

  test('20 MiB from the device endpoint is refused too', async () => {
    let outcome: Promise<{ written: number; aborted: boolean }> | undefined
    const s = await serve({
      '/d': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        outcome = writeHugeBody(res, twentyMiB, {
          prefix: `${JSON.stringify(validDevice).slice(0, -1)},"pad":"`,
          suffix: tokenSuffix,
        })
      },
    })
    const err = await authError(getDeviceCode(`${s.url}/d`, 'cli'))
    expect(err.message).toMatch(/over 1 MiB/)
    expect((await (outcome as Promise<{ written: number }>)).written).toBeLessThan(8 * 1024 * 1024)
  })

  test('a 20 KB gzip body that inflates to 20 MiB is refused (Content-Length counts encoded bytes)', async () => {
    const inflated = Buffer.concat([
      Buffer.from(tokenPrefix),
      Buffer.alloc(twentyMiB, 0x20),
      Buffer.from(tokenSuffix),
    ])
    const gzipped = gzipSync(inflated)
    expect(gzipped.length).toBeLessThan(100 * 1024)
    const s = await serve({
      '/bomb': (_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': gzipped.length,
        })
        res.end(gzipped)
      },
    })
    const err = await authError(getToken(`${s.url}/bomb`))
    expect(err.message).toMatch(/over 1 MiB/)
  })

  test('exactly 1 MiB is accepted, one byte more is refused', async () => {
    const exact = (extra: number): string => {
      const pad = 1024 * 1024 - tokenPrefix.length - tokenSuffix.length + extra
      return `${tokenPrefix}${' '.repeat(pad)}${tokenSuffix}`
    }
    const s = await serve({
      '/exact': (_req, res) => text(res, 200, exact(0), 'application/json'),
      '/over': (_req, res) => text(res, 200, exact(1), 'application/json'),
      '/over-chunked': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(exact(1))
      },
    })
    expect((await getToken(`${s.url}/exact`)).accessToken).toBe('at-huge')
    expect((await authError(getToken(`${s.url}/over`))).message).toMatch(/over 1 MiB/)
    expect((await authError(getToken(`${s.url}/over-chunked`))).message).toMatch(/over 1 MiB/)
  })
})

test.describe('broken connections', () => {
  test('a reset mid-body, with and without Content-Length', async () => {
    const s = await serve({
      '/sized': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 200 })
        res.write('{"access_token":"at-')
        setTimeout(() => res.socket?.destroy(), 20)
      },
      '/chunked': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"access_token":"at-')
        setTimeout(() => res.socket?.destroy(), 20)
      },
    })
    for (const path of ['/sized', '/chunked']) {
      const err = await authError(getToken(`${s.url}${path}`))
      expect(err.status).toBeUndefined()
      expect(err.message).toMatch(/connection .* broke/)
      expect(err.cause).toBeInstanceOf(Error)
    }
  })

  test('a reset before any answer, and nothing listening at all', async () => {
    const s = await serve({ '/t': (req) => void req.socket.destroy() })
    const reset = await authError(getToken(`${s.url}/t`))
    expect(reset.message).toMatch(/Could not reach the token endpoint/)
    expect(reset.cause).toBeInstanceOf(Error)
    const port = s.port
    await s.close()
    const refused = await authError(getDeviceCode(`http://127.0.0.1:${port}/d`, 'cli'))
    expect(refused.message).toMatch(/Could not reach the device authorization endpoint/)
  })
})

test.describe('timeouts', () => {
  /** Measures how long a call takes to fail, and checks it fails as a timeout. */
  async function timedOut(call: () => Promise<unknown>, timeout: number): Promise<AuthenticationError> {
    const t0 = performance.now()
    const err = await authError(call())
    const elapsed = performance.now() - t0
    expect(err.message).toMatch(/timed out/)
    expect(err.message).toContain(`${timeout} ms`)
    expect(elapsed).toBeGreaterThanOrEqual(timeout - 2)
    expect(elapsed).toBeLessThan(timeout + 250)
    return err
  }

  test('a server that never answers: timeout ends it within timeout + 250 ms', async () => {
    const s = await serve({ '/silent': () => {} })
    const err = await timedOut(() => getToken(`${s.url}/silent`, { timeout: 1000 }), 1000)
    expect(err.status).toBeUndefined()
    await timedOut(() => getDeviceCode(`${s.url}/silent`, 'cli', { timeout: 700 }), 700)
  })

  test('the timeout covers the body: headers then silence, and a body that trickles forever', async () => {
    const s = await serve({
      '/stall': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"access_token":')
      },
      '/trickle': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"access_token":"')
        const timer = setInterval(() => res.write('a'), 100)
        res.on('close', () => clearInterval(timer))
      },
    })
    await timedOut(() => getToken(`${s.url}/stall`, { timeout: 800 }), 800)
    await timedOut(() => getToken(`${s.url}/trickle`, { timeout: 800 }), 800)
  })

  test('an invalid timeout is a TypeError before any request; a huge one means no timeout', async () => {
    const s = await serve({ '/t': (_req, res) => json(res, 200, validToken) })
    for (const timeout of [-1, Number.NaN]) {
      const err = await rejection(getToken(`${s.url}/t`, { timeout }))
      expect(err).toBeInstanceOf(TypeError)
      expect((err as Error).message).toMatch(/timeout/)
    }
    expect(s.requests()).toEqual([])
    for (const timeout of [Number.POSITIVE_INFINITY, 2 ** 40, 1500.5]) {
      expect((await getToken(`${s.url}/t`, { timeout })).accessToken).toBe('at-valid')
    }
  })

  test('the default timeout is 30 s', async () => {
    test.setTimeout(90_000)
    const s = await serve({ '/silent': () => {} })
    await timedOut(() => getToken(`${s.url}/silent`), 30_000)
  })
})
