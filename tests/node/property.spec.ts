/**
 * Property-based tests (fast-check): the Basic header round-trips any Unicode, never throws on any UTF-16;
 * response parsing over arbitrary JSON values and arbitrary bytes, served over real HTTP, yields a well-typed
 * TokenResponse/DeviceCodeResponse or an AuthenticationError, nothing else; redaction holds for any secret.
 */
import { expect, test } from '@playwright/test'
import fc from 'fast-check'
import {
  AuthenticationError,
  AuthenticationPending,
  DeviceCodeResponse,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  type TokenResponse,
} from 'token-client'
import { describeError, failOnUnhandledRejections } from '../fixtures/hostile.ts'
import { type ScriptedServer, startScriptedServer } from '../fixtures/scripted-server.ts'

failOnUnhandledRejections(test)

/** Any UTF-16 string, lone surrogates included. */
const utf16 = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
})

/** What a string becomes on the wire as UTF-8: lone surrogates turn into U+FFFD. */
function wellFormed(s: string): string {
  return new TextDecoder().decode(new TextEncoder().encode(s))
}

/** Decodes a Basic header the way a server does: base64, split on the first ':', form-decode each half. */
function decodeBasic(header: string): [string, string] {
  expect(header).toMatch(/^Basic [A-Za-z0-9+/]*={0,2}$/)
  const decoded = atob(header.slice('Basic '.length))
  const colon = decoded.indexOf(':')
  expect(colon).toBeGreaterThanOrEqual(0)
  // The halves are ASCII percent-escapes of UTF-8; decodeURIComponent reads them as UTF-8.
  const formDecode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '))
  return [formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))]
}

test.describe('getBasicAuthorizationHeader', () => {
  test('round-trips any grapheme string (ids and secrets with ":", spaces, emoji, combining marks)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (id, secret) => {
        expect(decodeBasic(getBasicAuthorizationHeader(id, secret))).toEqual([id, secret])
      }),
      { numRuns: 1000 },
    )
  })

  test('round-trips any code point string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (id, secret) => {
        expect(decodeBasic(getBasicAuthorizationHeader(id, secret))).toEqual([id, secret])
      }),
      { numRuns: 1000 },
    )
  })

  test('any UTF-16, lone surrogates included: never throws, sends what UTF-8 can carry', () => {
    fc.assert(
      fc.property(utf16, utf16, (id, secret) => {
        const header = getBasicAuthorizationHeader(id, secret)
        expect(decodeBasic(header)).toEqual([wellFormed(id), wellFormed(secret)])
      }),
      { numRuns: 1000 },
    )
  })
})

/** One answer the scripted server gives next. */
interface Answer {
  status: number
  contentType: string | undefined
  body: Uint8Array
}

let server: ScriptedServer | undefined
let next: Answer = { status: 200, contentType: 'application/json', body: new Uint8Array() }

test.beforeAll(async () => {
  server = await startScriptedServer({
    '/any': (_req, res) => {
      const headers: Record<string, string | number> = { 'content-length': next.body.byteLength }
      if (next.contentType !== undefined) headers['content-type'] = next.contentType
      res.writeHead(next.status, headers)
      res.end(next.body)
    },
  })
})

test.afterAll(async () => {
  await server?.close()
})

const statuses = fc.constantFrom(200, 200, 200, 201, 400, 401, 403, 428, 429, 500, 502, 503)
const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  undefined,
)

/** Any value a field may hold, biased toward the shapes servers really send. */
const fieldValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.nat().map(String),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(''),
  fc.jsonValue({ maxDepth: 2 }),
)

/** Objects with the token and device fields (each present or not), holding any values. */
const oauthLike = fc.record(
  {
    access_token: fieldValue,
    refresh_token: fieldValue,
    expires_in: fieldValue,
    token_type: fieldValue,
    scope: fieldValue,
    id_token: fieldValue,
    device_code: fieldValue,
    user_code: fieldValue,
    verification_uri: fieldValue,
    verification_url: fieldValue,
    verification_uri_complete: fieldValue,
    interval: fieldValue,
    error: fc.oneof(fieldValue, fc.constantFrom('authorization_pending', 'slow_down', 'access_denied')),
    error_description: fieldValue,
  },
  { requiredKeys: [] },
)

/** Objects whose fields are valid, so that the success path is taken often. */
const validish = fc.record({
  access_token: fc.string({ minLength: 1 }),
  device_code: fc.string({ minLength: 1 }),
  user_code: fc.string({ minLength: 1 }),
  verification_uri: fc.string({ minLength: 1 }),
  expires_in: fc.oneof(fc.nat(), fc.nat().map(String), fc.double()),
  interval: fc.oneof(fc.nat(60), fc.nat(60).map(String)),
  refresh_token: fc.option(fc.string(), { nil: undefined }),
})

/** JSON bodies: any JSON value, OAuth-shaped objects, or valid-ish ones. */
const jsonBody = fc
  .oneof(fc.jsonValue(), oauthLike, validish)
  .map((v) => new TextEncoder().encode(JSON.stringify(v)))

/** A field value as a form carries it; JSON text for objects (String() throws on some, e.g. `{ toString: 1 }`). */
const formValue = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)))

/** Bodies as arbitrary bytes, or as a form built from OAuth-shaped fields. */
const byteBody = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc.string({ unit: 'binary' }).map((s) => new TextEncoder().encode(s)),
  oauthLike.map((o) =>
    new TextEncoder().encode(
      new URLSearchParams(Object.entries(o).map(([k, v]) => [k, formValue(v)])).toString(),
    ),
  ),
)

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string'
const seconds = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0

/** A TokenResponse with exactly the declared fields and types. */
function checkToken(token: TokenResponse): void {
  const keys = ['accessToken', 'refreshToken', 'expiresIn', 'tokenType', 'scope', 'idToken', 'raw']
  for (const key of Object.keys(token)) expect(keys).toContain(key)
  expect(typeof token.accessToken).toBe('string')
  expect(token.accessToken.length).toBeGreaterThan(0)
  expect(optionalString(token.refreshToken)).toBe(true)
  expect(token.expiresIn === undefined || seconds(token.expiresIn)).toBe(true)
  expect(optionalString(token.tokenType)).toBe(true)
  expect(optionalString(token.scope)).toBe(true)
  expect(optionalString(token.idToken)).toBe(true)
  expect(typeof token.raw).toBe('object')
  expect(token.raw).not.toBeNull()
  expect(Array.isArray(token.raw)).toBe(false)
}

/** A DeviceCodeResponse with the declared field types. */
function checkDevice(resp: DeviceCodeResponse): void {
  expect(resp).toBeInstanceOf(DeviceCodeResponse)
  for (const field of [resp.deviceCode, resp.userCode, resp.verificationUri]) {
    expect(typeof field).toBe('string')
    expect(field.length).toBeGreaterThan(0)
  }
  expect(optionalString(resp.verificationUriComplete)).toBe(true)
  expect(seconds(resp.expiresIn)).toBe(true)
  expect(seconds(resp.interval)).toBe(true)
}

/** Fails unless `err` is an AuthenticationError (or, for the token endpoint, a well-formed pending signal). */
function checkFailure(err: unknown, pendingAllowed: boolean): void {
  if (pendingAllowed && err instanceof AuthenticationPending) {
    expect(['authorization_pending', 'slow_down']).toContain(err.error)
    expect(err.interval === undefined || seconds(err.interval)).toBe(true)
    return
  }
  if (!(err instanceof AuthenticationError))
    throw new Error(`not an AuthenticationError: ${describeError(err)}`)
  expect(err.status === undefined || Number.isInteger(err.status)).toBe(true)
  expect(optionalString(err.error)).toBe(true)
  expect(optionalString(err.errorDescription)).toBe(true)
  expect(optionalString(err.errorUri)).toBe(true)
  expect(typeof err.message).toBe('string')
}

async function tokenOutcome(answer: Answer): Promise<void> {
  next = answer
  try {
    checkToken(await getToken(`${server?.url}/any`))
  } catch (err) {
    checkFailure(err, true)
  }
}

async function deviceOutcome(answer: Answer): Promise<void> {
  next = answer
  try {
    checkDevice(await getDeviceCode(`${server?.url}/any`, 'cli'))
  } catch (err) {
    checkFailure(err, false)
  }
}

test.describe('response parsing over real HTTP', () => {
  test('token endpoint, arbitrary JSON values: a TokenResponse or an AuthenticationError', async () => {
    await fc.assert(
      fc.asyncProperty(statuses, contentTypes, jsonBody, (status, contentType, body) =>
        tokenOutcome({ status, contentType, body }),
      ),
      { numRuns: 400 },
    )
  })

  test('token endpoint, arbitrary bytes: a TokenResponse or an AuthenticationError', async () => {
    await fc.assert(
      fc.asyncProperty(statuses, contentTypes, byteBody, (status, contentType, body) =>
        tokenOutcome({ status, contentType, body }),
      ),
      { numRuns: 400 },
    )
  })

  test('device endpoint, arbitrary JSON values and bytes: a DeviceCodeResponse or an AuthenticationError', async () => {
    await fc.assert(
      fc.asyncProperty(statuses, contentTypes, fc.oneof(jsonBody, byteBody), (status, contentType, body) =>
        deviceOutcome({ status, contentType, body }),
      ),
      { numRuns: 400 },
    )
  })
})

test.describe('response parsing without HTTP', () => {
  test('DeviceCodeResponse.fromJsonResponse over arbitrary values', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.anything({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), oauthLike, validish),
        (value) => {
          let resp: DeviceCodeResponse
          try {
            resp = DeviceCodeResponse.fromJsonResponse(value)
          } catch (err) {
            return checkFailure(err, false)
          }
          checkDevice(resp)
        },
      ),
      { numRuns: 1500 },
    )
  })

  test('the DeviceCodeResponse constructor over arbitrary values', () => {
    const init = fc.record(
      {
        deviceCode: fieldValue,
        userCode: fieldValue,
        verificationUri: fieldValue,
        verificationUriComplete: fieldValue,
        expiresIn: fieldValue,
        interval: fieldValue,
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(fc.oneof(init, fc.anything({ maxDepth: 2 })), (value) => {
        let resp: DeviceCodeResponse
        try {
          resp = new DeviceCodeResponse(value as never)
        } catch (err) {
          return checkFailure(err, false)
        }
        checkDevice(resp)
      }),
      { numRuns: 1500 },
    )
  })
})

test.describe('redaction holds for any secret', () => {
  // Characters that cannot occur in "[redacted]", so that a match after scrubbing can only be a leak.
  const secretChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 %+&=/?:#~!*()_-.,;éß✓😀€')
  const secret = fc.string({ unit: secretChar, minLength: 4, maxLength: 24 })

  test('a refresh token and a client secret echoed back never reach the error', async () => {
    const echo = await startScriptedServer({
      '/t': (req, res) => {
        const [, encodedSecret = ''] = atob(String(req.headers.authorization).slice(6)).split(':')
        const sent = [
          req.form.get('refresh_token') ?? '',
          decodeURIComponent(encodedSecret.replace(/\+/g, ' ')),
        ]
        const echoed = [...sent, ...sent.map(encodeURIComponent), encodedSecret].join(' ')
        const body = JSON.stringify({ error: `bad ${echoed}`, error_description: echoed, error_uri: echoed })
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(body)
      },
    })
    try {
      await fc.assert(
        fc.asyncProperty(secret, secret, async (refreshToken, clientSecret) => {
          let err: unknown
          try {
            await getToken(`${echo.url}/t`, {
              grantType: 'refresh_token',
              refreshToken,
              authorizationHeader: getBasicAuthorizationHeader('cid', clientSecret),
            })
          } catch (caught) {
            err = caught
          }
          checkFailure(err, false)
          const exposed = [(err as Error).message, JSON.stringify(err)].join('\n')
          for (const s of [refreshToken, clientSecret]) {
            expect(exposed).not.toContain(s)
            expect(exposed).not.toContain(encodeURIComponent(s))
          }
        }),
        { numRuns: 150 },
      )
    } finally {
      await echo.close()
    }
  })

  test('secrets with lone surrogates: no exception other than AuthenticationError, nothing leaks', async () => {
    const echo = await startScriptedServer({
      '/t': (req, res) => {
        const body = JSON.stringify({
          error: 'invalid_grant',
          error_description: req.form.get('refresh_token'),
        })
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(body)
      },
    })
    try {
      await fc.assert(
        fc.asyncProperty(
          utf16.filter((s) => s.length >= 4 && !/[[\]a-z]/.test(s)),
          async (refreshToken) => {
            let err: unknown
            try {
              await getToken(`${echo.url}/t`, { grantType: 'refresh_token', refreshToken })
            } catch (caught) {
              err = caught
            }
            checkFailure(err, false)
            expect((err as Error).message).not.toContain(wellFormed(refreshToken))
          },
        ),
        { numRuns: 150 },
      )
    } finally {
      await echo.close()
    }
  })
})
