/**
 * Security defaults: the https rule (plain http only on loopback or with allowInsecureHttp), and redaction:
 * a server that echoes every secret it got back in every field it can must not get any of them into an
 * error's message, its fields, toJSON()/JSON.stringify, its cause chain, or util.inspect.
 */
import { inspect } from 'node:util'
import { expect, test } from '@playwright/test'
import ky from 'ky'
import {
  type AuthenticationError,
  DeviceCodeResponse,
  GrantType,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  pollTokenEndpoint,
} from 'token-client'
import { authError, failOnUnhandledRejections, rejection, scriptedServers } from '../fixtures/hostile.ts'
import { json, type Route, startScriptedServer, text } from '../fixtures/scripted-server.ts'

failOnUnhandledRejections(test)

const serve = scriptedServers(test)

/** A port nothing listens on (a server's, just closed). */
async function closedPort(): Promise<number> {
  const s = await startScriptedServer()
  await s.close()
  return s.port
}

const tokenBody = { access_token: 'at-fine', expires_in: 60 }
const deviceBody = {
  device_code: 'dc-fine',
  user_code: 'USER-CODE',
  verification_uri: 'https://idp.example/device',
  expires_in: 60,
  interval: 0,
}

test.describe('https rule', () => {
  const remote = [
    'http://example.com/token',
    'http://10.0.0.1/token',
    'http://192.168.1.1:8080/token',
    'http://127.0.0.1.nip.io/token',
    'http://localhost.example.com/token',
    'http://[::2]/token',
    'http://[2001:db8::1]/token',
  ]

  test('plain http to a non-loopback host is refused with the opt-in hint, by every call', async () => {
    const resp = new DeviceCodeResponse({
      deviceCode: 'dc',
      userCode: 'u',
      verificationUri: 'v',
      expiresIn: 60,
    })
    for (const url of remote) {
      for (const call of [
        () => getToken(url),
        () => getDeviceCode(url, 'cli'),
        () => pollTokenEndpoint(resp, url, 'cli'),
      ]) {
        const err = await rejection(call())
        expect(err).toBeInstanceOf(TypeError)
        expect((err as Error).message).toContain('allowInsecureHttp: true')
        expect((err as Error).message).toContain('https://')
      }
    }
  })

  test('the refusal happens before anything is sent (0.0.0.0 reaches our loopback server)', async () => {
    const s = await serve({
      '/t': (_req, res) => json(res, 200, tokenBody),
      '/d': (_req, res) => json(res, 200, deviceBody),
    })
    const url = `http://0.0.0.0:${s.port}`
    expect(await rejection(getToken(`${url}/t`, { authorizationHeader: basic }))).toBeInstanceOf(TypeError)
    expect(await rejection(getDeviceCode(`${url}/d`, 'cli'))).toBeInstanceOf(TypeError)
    const resp = new DeviceCodeResponse({
      deviceCode: 'dc',
      userCode: 'u',
      verificationUri: 'v',
      expiresIn: 60,
      interval: 0,
    })
    expect(await rejection(pollTokenEndpoint(resp, `${url}/t`, 'cli'))).toBeInstanceOf(TypeError)
    expect(s.requests()).toEqual([])
  })

  test('allowInsecureHttp: true opts in, for every call', async () => {
    const s = await serve({
      '/t': (_req, res) => json(res, 200, tokenBody),
      '/d': (_req, res) => json(res, 200, deviceBody),
    })
    const url = `http://0.0.0.0:${s.port}`
    expect((await getToken(`${url}/t`, { allowInsecureHttp: true })).accessToken).toBe('at-fine')
    const resp = await getDeviceCode(`${url}/d`, 'cli', { allowInsecureHttp: true })
    expect(resp.deviceCode).toBe('dc-fine')
    expect((await pollTokenEndpoint(resp, `${url}/t`, 'cli', { allowInsecureHttp: true })).accessToken).toBe(
      'at-fine',
    )
    expect(s.requests()).toHaveLength(3)
  })

  test('loopback is allowed: localhost, 127.0.0.0/8, [::1], in any case', async () => {
    const s = await serve({ '/t': (_req, res) => json(res, 200, tokenBody) })
    expect((await getToken(`http://localhost:${s.port}/t`)).accessToken).toBe('at-fine')
    expect((await getToken(`HTTP://LocalHost:${s.port}/t`)).accessToken).toBe('at-fine')
    expect((await getToken(`http://127.0.0.1:${s.port}/t`)).accessToken).toBe('at-fine')
    // Nothing listens there: an AuthenticationError (connection refused) shows the rule let the request go.
    const port = await closedPort()
    for (const host of ['127.0.0.2', '127.255.255.254', '[::1]', '[0:0:0:0:0:0:0:1]', '127.1']) {
      const err = await authError(getToken(`http://${host}:${port}/t`, { timeout: 5000 }))
      expect(err.message).toMatch(/Could not reach|timed out/)
    }
  })

  test('https is always allowed; other schemes and relative URLs are TypeErrors', async () => {
    const port = await closedPort()
    await authError(getToken(`https://127.0.0.1:${port}/t`))
    for (const url of [
      'ftp://idp.example/token',
      'file:///etc/passwd',
      'javascript:alert(1)',
      '/token',
      'not a url',
    ]) {
      const err = await rejection(getToken(url))
      expect(err).toBeInstanceOf(TypeError)
    }
  })

  test('a user name or password in an endpoint URL is refused without echoing it', async () => {
    const port = await closedPort()
    for (const url of [`http://id:hunter2@127.0.0.1:${port}/t`, `https://hunter2@idp.example/t`]) {
      const err = await rejection(getToken(url))
      expect(err).toBeInstanceOf(TypeError)
      expect((err as TypeError).message).toContain('must not carry a user name or password')
      expect((err as TypeError).message).not.toContain('hunter2')
    }
    const unparsable = await rejection(getToken('http://id:hunter2@[bad'))
    expect(unparsable).toBeInstanceOf(TypeError)
    expect((unparsable as TypeError).message).not.toContain('hunter2')
  })
})

// Every secret a request can carry. Each is long enough to be scrubbed and has characters that need encoding.
const clientId = 'public-client-id'
const clientSecret = 'Cl1ent-S3cret:with/odd?chars&+ %é'
const refreshToken = 'rt-R3fresh+Token/0123456789=='
const deviceCode = 'dc-D3vice Code&0123456789'
const bearer = 'Bearer at-B3arer.Value_0123456789'
const basic = getBasicAuthorizationHeader(clientId, clientSecret)

/** Every form a secret may take on the wire or in an echo. */
function forms(secret: string): string[] {
  const uri = encodeURIComponent(secret)
  return [secret, uri, uri.replace(/%20/g, '+'), new URLSearchParams({ s: secret }).toString().slice(2)]
}

const secretForms = [
  ...forms(clientSecret),
  ...forms(refreshToken),
  ...forms(deviceCode),
  ...forms(bearer),
  ...forms(bearer.slice('Bearer '.length)),
  basic,
  basic.slice('Basic '.length),
  atob(basic.slice('Basic '.length)).split(':')[1] as string,
]

/** What the server heard: the secrets it will echo back. */
function heard(req: { headers: Record<string, unknown>; form: URLSearchParams }): string {
  const authorization = String(req.headers.authorization ?? '')
  const parts = [authorization, authorization.slice(authorization.indexOf(' ') + 1)]
  if (authorization.startsWith('Basic ')) {
    const [, encodedSecret = ''] = atob(authorization.slice(6)).split(':')
    parts.push(encodedSecret, decodeURIComponent(encodedSecret.replace(/\+/g, ' ')))
  }
  for (const key of ['refresh_token', 'device_code', 'client_secret']) {
    const value = req.form.get(key)
    if (value !== null) parts.push(value, encodeURIComponent(value))
  }
  return parts.filter((p) => p !== '').join(' | ')
}

/** The routes of an echoing server, each echoing what it heard in another place. */
const echoRoutes: Record<string, Route> = {
  '/json-400': (req, res) =>
    json(res, 400, {
      error: `invalid_grant ${heard(req)}`,
      error_description: `You sent ${heard(req)}`,
      error_uri: `https://idp.example/errors?sent=${encodeURIComponent(heard(req))}&raw=${heard(req)}`,
    }),
  '/json-200': (req, res) => json(res, 200, { error: 'access_denied', error_description: heard(req) }),
  '/json-429': (req, res) =>
    json(res, 429, { error: 'slow', error_description: heard(req) }, { 'retry-after': '1', 'x-echo': 'no' }),
  '/form-400': (req, res) =>
    text(
      res,
      400,
      new URLSearchParams({
        error: heard(req),
        error_description: heard(req),
        error_uri: heard(req),
      }).toString(),
      'application/x-www-form-urlencoded',
    ),
  '/html-500': (req, res) => text(res, 500, `<html><pre>${heard(req)}</pre></html>`, 'text/html'),
  '/text-200': (req, res) => text(res, 200, `you sent ${heard(req)}`, 'text/plain'),
  '/json-200-invalid': (req, res) => json(res, 200, { access_token: 42, echo: heard(req) }),
  '/redirect': (req, res) => {
    res.writeHead(302, { location: `https://evil.example/?${encodeURIComponent(heard(req))}` })
    res.end(heard(req))
  },
}

/** Every string an error exposes: message, fields, JSON, the cause chain's messages, and util.inspect. */
function exposed(err: AuthenticationError): string[] {
  const out = [
    err.message,
    String(err),
    String(err.error),
    String(err.errorDescription),
    String(err.errorUri),
    JSON.stringify(err),
    JSON.stringify(err.toJSON()),
    inspect(err, { depth: 10 }),
  ]
  let cause: unknown = err.cause
  for (let depth = 0; depth < 10 && cause !== undefined; depth++) {
    out.push(cause instanceof Error ? `${cause.message}\n${cause.stack}` : String(cause))
    cause = cause instanceof Error ? cause.cause : undefined
  }
  return out
}

function expectNoSecret(err: AuthenticationError): void {
  const all = exposed(err).join('\n')
  for (const secret of secretForms) {
    expect(all, `a form of a secret leaked: ${secret}`).not.toContain(secret)
  }
}

test.describe('redaction', () => {
  test('the echo server really echoes (the checks below are not vacuous); values under 4 characters stay', async () => {
    const s = await serve(echoRoutes)
    const err = await authError(
      getToken(`${s.url}/json-400`, { authorizationHeader: 'Basic eDp5', refreshToken: 'abc' }),
    )
    expect(err.errorDescription).toBe('You sent [redacted] | [redacted] | y | y | abc | abc')
  })

  for (const path of Object.keys(echoRoutes)) {
    test(`${path}: client secret (Basic), refresh token, device code, Bearer value never leak`, async () => {
      const s = await serve(echoRoutes)
      const errors = [
        await authError(
          getToken(`${s.url}${path}`, {
            authorizationHeader: basic,
            grantType: GrantType.REFRESH_TOKEN,
            refreshToken,
            clientId,
          }),
        ),
        await authError(
          getToken(`${s.url}${path}`, {
            authorizationHeader: bearer,
            grantType: GrantType.DEVICE_CODE,
            deviceCode,
            clientId,
          }),
        ),
      ]
      for (const err of errors) expectNoSecret(err)
      if (path.startsWith('/json-') && path !== '/json-200-invalid') {
        expect(errors[0]?.errorDescription).toContain('[redacted]')
      }
    })
  }

  test('a poll that ends with an echoing access_denied', async () => {
    const s = await serve({
      '/token': (req, res) =>
        json(res, 400, { error: 'access_denied', error_description: heard(req), error_uri: heard(req) }),
    })
    const resp = new DeviceCodeResponse({
      deviceCode,
      userCode: 'U',
      verificationUri: 'v',
      expiresIn: 60,
      interval: 0,
    })
    const err = await authError(pollTokenEndpoint(resp, `${s.url}/token`, clientId))
    expect(err.errorDescription).toContain('[redacted]')
    expectNoSecret(err)
  })

  test('a poll that ends after network failures: the message and its cause chain', async () => {
    const s = await serve({ '/token': (req) => void req.socket.destroy() })
    const resp = new DeviceCodeResponse({
      deviceCode,
      userCode: 'U',
      verificationUri: 'v',
      expiresIn: 60,
      interval: 0,
    })
    // A session whose hook puts the device code into the network error's message.
    const session = ky.create({
      hooks: {
        beforeError: [],
        beforeRequest: [
          async ({ request }) => {
            const body = await request.clone().text()
            if (body.includes('device_code')) throw new Error(`could not send ${body}`)
          },
        ],
      },
    })
    const err = await authError(pollTokenEndpoint(resp, `${s.url}/token`, clientId, { session }))
    expect(err.message).toContain('[redacted]')
    expectNoSecret(err)
  })

  test('errors thrown inside the transport, even read-only ones, are scrubbed in the cause chain', async () => {
    const s = await serve({ '/t': (_req, res) => json(res, 200, tokenBody) })
    const throwers: Array<(authorization: string) => unknown> = [
      (a) => new Error(`plain ${a}`),
      (a) => new DOMException(`dom ${a}`, 'NetworkError'),
      (a) => Object.freeze(new Error(`frozen ${a}`)),
      (a) =>
        new Error('outer', { cause: new Error(`inner ${a}`, { cause: new TypeError(`innermost ${a}`) }) }),
      (a) => new Error('outer', { cause: Object.freeze(new DOMException(`frozen dom ${a}`, 'AbortError')) }),
      // A custom fetch or hook may throw a bare string.
      (a) => `string ${a}`,
    ]
    for (const thrower of throwers) {
      const session = ky.create({
        hooks: {
          beforeRequest: [
            ({ request }) => {
              throw thrower(request.headers.get('authorization') ?? '')
            },
          ],
        },
      })
      for (const authorizationHeader of [basic, bearer]) {
        const err = await authError(getToken(`${s.url}/t`, { session, authorizationHeader }))
        expect(exposed(err).join('\n')).toContain('[redacted]')
        expectNoSecret(err)
      }
    }
    expect(s.requests()).toEqual([])
  })
})

test("a session timeout: ky's error holds the whole request, yet inspecting the error shows no secret", async () => {
  const s = await serve({ '/t': () => {} })
  const session = ky.create({ timeout: 200 })
  for (const authorizationHeader of [basic, bearer]) {
    const err = await authError(getToken(`${s.url}/t`, { session, authorizationHeader, refreshToken }))
    const shown = [inspect(err, { depth: 20, showHidden: true }), JSON.stringify(err)].join('\n')
    expect(shown).toContain('Timeout')
    expectNoSecret(err)
    expect(shown).not.toContain(authorizationHeader)
    expect(shown).not.toContain(authorizationHeader.split(' ')[1])
    expect(shown).not.toContain(refreshToken)
  }
})

test.describe('the error object', () => {
  test('carries status, error, errorDescription, errorUri, cause; toJSON holds only those and name/message', async () => {
    const s = await serve({
      '/t': (_req, res) =>
        json(
          res,
          429,
          {
            error: 'too_many',
            error_description: 'calm down',
            error_uri: 'https://idp.example/429',
            extra: 'x',
          },
          { 'retry-after': '7' },
        ),
    })
    const err = await authError(getToken(`${s.url}/t`))
    expect(err).toBeInstanceOf(Error)
    expect(err.status).toBe(429)
    expect(err.error).toBe('too_many')
    expect(err.errorDescription).toBe('calm down')
    expect(err.errorUri).toBe('https://idp.example/429')
    const plain = JSON.parse(JSON.stringify(err)) as Record<string, unknown>
    expect(Object.keys(plain).sort()).toEqual([
      'error',
      'errorDescription',
      'errorUri',
      'message',
      'name',
      'status',
    ])
    expect(plain.name).toBe('AuthenticationError')

    const port = await closedPort()
    const network = await authError(getToken(`http://127.0.0.1:${port}/t`))
    const withCause = network.toJSON()
    expect(
      Object.keys(withCause)
        .filter((k) => withCause[k as keyof typeof withCause] !== undefined)
        .sort(),
    ).toEqual(['cause', 'message', 'name'])
    expect(Object.keys(withCause.cause ?? {}).sort()).toEqual(['message', 'name'])
  })
})
