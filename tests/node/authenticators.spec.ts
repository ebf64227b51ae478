/**
 * The authenticators (cache, skew, single flight, client authentication, refresh and rotation, fallback to the
 * device flow), the token stores (memory, file; web storage is tested in Chromium) and authenticator.fetch,
 * against the real oidc-provider and a protected resource server that checks tokens with the provider's own
 * token models. The scripted server only plays what oidc-provider never does on demand: tokens without
 * expires_in, refresh answers without a refresh token, other client authentication methods, failures.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  ClientCredentialsAuthenticator,
  DeviceCodeAuthenticator,
  type DeviceCodeResponse,
  memoryStore,
  type StoredToken,
  type TokenStore,
} from 'token-client'
import { fileStore } from 'token-client/node'
import { startProcess } from '../fixtures/child-process.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { rejection } from '../fixtures/hostile.ts'
import { type OidcFixture, type StartOidcProviderOptions, startOidcProvider } from '../fixtures/oidc.ts'
import { json, type Route, type ScriptedServer, startScriptedServer } from '../fixtures/scripted-server.ts'

const deviceScopes = ['openid', 'offline_access', 'api:read']
const closedAfterTest = closeAfterEach(test)

async function provider(opts?: StartOidcProviderOptions): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider(opts))
}

async function scripted(routes: Record<string, Route> = {}): Promise<ScriptedServer> {
  return closedAfterTest(await startScriptedServer(routes))
}

async function temporaryDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'token-client-authenticators-'))
  closedAfterTest({ close: () => rm(dir, { recursive: true, force: true }) })
  return dir
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sleeps until the epoch-ms time `at` (never less): for tests of real expiry. */
async function sleepUntil(at: number): Promise<void> {
  while (Date.now() < at) await sleep(Math.max(1, at - Date.now()))
}

/** A device authorization endpoint that hands out one fixed code, to be polled at once (interval 0). */
const fixedDeviceCode: Route = (_req, res) =>
  json(res, 200, { device_code: 'dc-1', user_code: 'UC', verification_uri: 'v', expires_in: 60, interval: 0 })

/**
 * A protected resource (RFC 6750) on 127.0.0.1 that accepts a Bearer token only when the provider knows it
 * as a live access token (device flow) or client credentials token: asked through the provider's models.
 */
async function protectedResource(op: OidcFixture): Promise<{
  url: string
  requests: Array<{ authorization: string | undefined; body: string; status: number }>
  close(): Promise<void>
}> {
  const requests: Array<{ authorization: string | undefined; body: string; status: number }> = []
  const check = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
    const value = match?.[1]
    const token =
      value === undefined
        ? undefined
        : ((await op.provider.AccessToken.find(value)) ?? (await op.provider.ClientCredentials.find(value)))
    const ok = token !== undefined && !token.isExpired
    requests.push({ authorization: req.headers.authorization, body, status: ok ? 200 : 401 })
    if (!ok) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end()
      return
    }
    json(res, 200, { client: token.clientId, echo: body })
  }
  const server: Server = createServer((req, res) => {
    check(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return closedAfterTest({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  })
}

/** Revokes a token at the provider, as an administrator (or an expiry) would. */
async function revoke(op: OidcFixture, token: string): Promise<void> {
  const model =
    (await op.provider.ClientCredentials.find(token)) ?? (await op.provider.AccessToken.find(token))
  await (model as unknown as { destroy(): Promise<void> }).destroy()
}

function clientCredentials(
  op: OidcFixture,
  extra: Partial<ConstructorParameters<typeof ClientCredentialsAuthenticator>[0]> = {},
) {
  return new ClientCredentialsAuthenticator({
    tokenEndpoint: op.tokenEndpoint,
    clientId: op.confidentialClient.clientId,
    clientSecret: op.confidentialClient.clientSecret,
    scopes: ['api:read'],
    ...extra,
  })
}

function deviceAuthenticator(
  op: OidcFixture,
  store: TokenStore,
  shown: DeviceCodeResponse[],
): DeviceCodeAuthenticator {
  return new DeviceCodeAuthenticator({
    issuer: op.issuer,
    clientId: op.deviceClient.clientId,
    scopes: deviceScopes,
    store,
    // The user approves as soon as the code is shown.
    onDeviceCode: async (code) => {
      shown.push(code)
      await op.approve(code.userCode)
    },
  })
}

async function storedToken(store: TokenStore): Promise<StoredToken> {
  const token = await store.get()
  if (token === undefined) throw new Error('nothing stored')
  return token
}

test.describe('ClientCredentialsAuthenticator', () => {
  test('caches the token: many calls, one token request at the real provider', async () => {
    const op = await provider()
    const store = memoryStore()
    const auth = clientCredentials(op, { store })
    const first = await auth.getAccessToken()
    expect(await auth.getAccessToken()).toBe(first)
    expect(await auth.getAccessToken()).toBe(first)
    expect(op.tokenRequests()).toBe(1)
    expect(await op.provider.ClientCredentials.find(first)).toBeTruthy()
    const stored = await storedToken(store)
    expect(stored.accessToken).toBe(first)
    expect(stored.expiresAt).toBeGreaterThan(stored.obtainedAt + 3_599_000)
  })

  test('single flight: 1,000 simultaneous calls on a cold cache make exactly one token request', async () => {
    const op = await provider()
    const auth = clientCredentials(op)
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => auth.getAccessToken()))
    expect(new Set(tokens).size).toBe(1)
    expect(op.tokenRequests()).toBe(1)
  })

  test('from the issuer: endpoints discovered (RFC 8414 metadata), Basic with an odd secret', async () => {
    const op = await provider()
    const auth = new ClientCredentialsAuthenticator({
      issuer: op.issuer,
      clientId: op.confidentialClient.clientId,
      clientSecret: op.confidentialClient.clientSecret,
      scopes: ['api:read'],
    })
    const token = await auth.getAccessToken()
    const model = await op.provider.ClientCredentials.find(token)
    expect(model?.clientId).toBe(op.confidentialClient.clientId)
    expect(model?.scope).toBe('api:read')
  })

  test('skew: reused until `skew` before expiry, then renewed', async () => {
    const op = await provider({ accessTokenTtl: 4 })
    const store = memoryStore()
    const auth = clientCredentials(op, { store, skew: 1 })
    const first = await auth.getAccessToken()
    const { obtainedAt, expiresAt } = await storedToken(store)
    expect(expiresAt).toBe(obtainedAt + 4000)
    await sleepUntil(obtainedAt + 2000)
    expect(await auth.getAccessToken()).toBe(first)
    expect(op.tokenRequests()).toBe(1)
    await sleepUntil(obtainedAt + 3050)
    expect(await auth.getAccessToken()).not.toBe(first)
    expect(op.tokenRequests()).toBe(2)
  })

  test('default skew is 30 s, capped at half the lifetime; a stored token is reused by a new instance', async () => {
    const op = await provider()
    const store = memoryStore()
    const token = await clientCredentials(op, { store }).getAccessToken()
    const stored = await storedToken(store)
    const now = Date.now()

    // 31 s left of a long-lived token: good.
    await store.set({ ...stored, obtainedAt: now - 3_000_000, expiresAt: now + 31_000 })
    expect(await clientCredentials(op, { store }).getAccessToken()).toBe(token)
    // 15 s left of a 20 s token: the skew is capped at 10 s, so still good.
    await store.set({ ...stored, obtainedAt: now - 5_000, expiresAt: now + 15_000 })
    expect(await clientCredentials(op, { store }).getAccessToken()).toBe(token)
    expect(op.tokenRequests()).toBe(1)
    // 29 s left of a long-lived token: within the skew, renewed.
    await store.set({ ...stored, obtainedAt: now - 3_000_000, expiresAt: now + 29_000 })
    expect(await clientCredentials(op, { store }).getAccessToken()).not.toBe(token)
    expect(op.tokenRequests()).toBe(2)
  })

  test('a stored token for another client or scope is not used', async () => {
    const op = await provider()
    const store = memoryStore()
    const token = await clientCredentials(op, { store }).getAccessToken()
    expect(await clientCredentials(op, { store, scopes: ['openid'] }).getAccessToken()).not.toBe(token)
    expect(op.tokenRequests()).toBe(2)
  })

  test('a token type other than Bearer or DPoP is refused (RFC 6749 §7.1), DPoP without a key too; bearer in any case is fine', async () => {
    const types = ['N_A', 'DPoP', 'bearer']
    const server = await scripted({
      '/token': (_req, res, i) =>
        json(res, 200, { access_token: `t-${i}`, token_type: types[i], expires_in: 60 }),
    })
    const make = () =>
      new ClientCredentialsAuthenticator({
        tokenEndpoint: `${server.url}/token`,
        clientId: 'svc',
        clientSecret: 'svc-secret-value',
      })
    const refused = await rejection(make().getAccessToken())
    expect(refused).toBeInstanceOf(AuthenticationError)
    expect((refused as Error).message).toContain('"N_A"')
    // RFC 9449: a DPoP-bound token is of no use without its key; the message says which option binds one.
    const unbound = await rejection(make().getAccessToken())
    expect((unbound as Error).message).toContain('"DPoP"')
    expect((unbound as Error).message).toContain('dpop option')
    expect((unbound as Error).message).not.toContain('t-1')
    expect(await make().getAccessToken()).toBe('t-2')
  })

  test("clientAuth 'basic-unencoded' and 'post'; a failure never shows the secret", async () => {
    const secret = 's3cr3t:with/odd?chars&+ %'
    const server = await scripted({
      '/token': (req, res) => {
        if (req.form.get('client_secret') === 'wrong secret value') {
          return json(res, 401, {
            error: 'invalid_client',
            error_description: `bad secret ${req.form.get('client_secret')}`,
          })
        }
        json(res, 200, { access_token: `t-${req.headers.authorization ? 'basic' : 'post'}`, expires_in: 60 })
      },
    })
    const make = (clientAuth: 'basic' | 'basic-unencoded' | 'post', clientSecret = secret) =>
      new ClientCredentialsAuthenticator({
        tokenEndpoint: `${server.url}/token`,
        clientId: 'my client',
        clientSecret,
        clientAuth,
      })

    await make('basic-unencoded').getAccessToken()
    const unencoded = server.requests('/token')[0]
    expect(Buffer.from((unencoded?.headers.authorization ?? '').slice(6), 'base64').toString()).toBe(
      `my client:${secret}`,
    )
    await make('basic').getAccessToken()
    expect(
      Buffer.from((server.requests('/token')[1]?.headers.authorization ?? '').slice(6), 'base64').toString(),
    ).toBe('my+client:s3cr3t%3Awith%2Fodd%3Fchars%26%2B+%25')
    expect(await make('post').getAccessToken()).toBe('t-post')
    const post = server.requests('/token')[2]
    expect(post?.headers.authorization).toBeUndefined()
    expect(post?.form.get('client_id')).toBe('my client')
    expect(post?.form.get('client_secret')).toBe(secret)
    expect(post?.form.get('grant_type')).toBe('client_credentials')

    const error = await rejection(make('post', 'wrong secret value').getAccessToken())
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as AuthenticationError).error).toBe('invalid_client')
    expect((error as Error).message).toContain('[redacted]')
    expect(JSON.stringify(error)).not.toContain('wrong secret value')
    expect(String((error as Error).stack)).not.toContain('wrong secret value')
  })

  test('a failed token request does not poison later calls; a caller signal stops only its own wait', async () => {
    let answerHeld: () => void = () => {}
    let heldArrived: () => void = () => {}
    const arrived = new Promise<void>((resolve) => {
      heldArrived = resolve
    })
    const server = await scripted({
      '/token': (_req, res, index) => {
        if (index === 0) return json(res, 503, { error: 'temporarily_unavailable' })
        // The second request is answered only when the test says so.
        answerHeld = () => json(res, 200, { access_token: `t${index}`, expires_in: 3600 })
        heldArrived()
      },
    })
    const auth = new ClientCredentialsAuthenticator({
      tokenEndpoint: `${server.url}/token`,
      clientId: 'c',
      clientSecret: 'secret',
    })
    const error = await rejection(auth.getAccessToken())
    expect((error as AuthenticationError).error).toBe('temporarily_unavailable')

    const controller = new AbortController()
    const reason = new Error('caller gave up')
    const impatient = rejection(auth.getAccessToken({ signal: controller.signal }))
    const patient = auth.getAccessToken()
    await arrived
    controller.abort(reason)
    expect(await impatient).toBe(reason)
    // The shared request goes on for the caller that still waits.
    answerHeld()
    expect(await patient).toBe('t1')
    expect(server.requests('/token')).toHaveLength(2)
  })

  test('explicit endpoints win over discovered ones; with all of them given, nothing is discovered', async () => {
    const server = await scripted({
      '/.well-known/oauth-authorization-server': (_req, res) =>
        json(res, 200, {
          issuer: server.url,
          token_endpoint: `${server.url}/discovered-token`,
          device_authorization_endpoint: `${server.url}/device`,
        }),
      '/device': fixedDeviceCode,
      '/token': (_req, res) => json(res, 200, { access_token: 'explicit', expires_in: 60 }),
    })
    const service = new ClientCredentialsAuthenticator({
      issuer: server.url,
      tokenEndpoint: `${server.url}/token`,
      clientId: 'c',
      clientSecret: 'secret',
    })
    expect(await service.getAccessToken()).toBe('explicit')
    expect(server.requests().map((r) => r.path)).toEqual(['/token'])

    // The device authenticator still needs the device endpoint: discovered, while the token endpoint is ours.
    const user = new DeviceCodeAuthenticator({
      issuer: server.url,
      tokenEndpoint: `${server.url}/token`,
      clientId: 'cli',
      onDeviceCode: () => {},
    })
    expect(await user.getAccessToken()).toBe('explicit')
    expect(server.requests().map((r) => r.path)).toEqual([
      '/token',
      '/.well-known/oauth-authorization-server',
      '/device',
      '/token',
    ])
  })

  test('constructor checks its options', () => {
    const valid = { tokenEndpoint: 'https://x.example/t', clientId: 'c', clientSecret: 's' }
    expect(() => new ClientCredentialsAuthenticator(valid)).not.toThrow()
    expect(() => new ClientCredentialsAuthenticator({ clientId: 'c', clientSecret: 's' })).toThrow(
      /Give the issuer \(to discover the endpoints\) or the tokenEndpoint/,
    )
    expect(() => new ClientCredentialsAuthenticator({ ...valid, clientId: '' })).toThrow(/clientId/)
    expect(() => new ClientCredentialsAuthenticator({ ...valid, clientSecret: '' })).toThrow(/clientSecret/)
    expect(() => new ClientCredentialsAuthenticator({ ...valid, skew: -1 })).toThrow(/skew/)
    expect(() => new ClientCredentialsAuthenticator({ ...valid, clientAuth: 'digest' as 'basic' })).toThrow(
      /clientAuth/,
    )
    // RFC 7617 §2: a colon would end the client id early in an unencoded Basic header.
    expect(
      () =>
        new ClientCredentialsAuthenticator({
          ...valid,
          clientId: 'tenant:svc',
          clientAuth: 'basic-unencoded',
        }),
    ).toThrow(/cannot send a client id that contains ':'/)
  })
})

test.describe('DeviceCodeAuthenticator', () => {
  test('device flow once, then refreshes that keep each rotated refresh token', async () => {
    const op = await provider({ deviceInterval: 1 })
    const store = memoryStore()
    const shown: DeviceCodeResponse[] = []
    const auth = deviceAuthenticator(op, store, shown)

    const first = await auth.getAccessToken()
    expect(shown).toHaveLength(1)
    expect(await auth.getAccessToken()).toBe(first)
    const firstRefresh = (await storedToken(store)).refreshToken
    expect(firstRefresh).toBeTruthy()

    // Each invalidation forces a refresh; oidc-provider rotates refresh tokens of public clients and revokes
    // the whole grant when an old one is reused, so a third token proves the rotated one was kept.
    const before = op.tokenRequests()
    await auth.invalidate()
    const second = await auth.getAccessToken()
    const secondRefresh = (await storedToken(store)).refreshToken
    await auth.invalidate()
    const third = await auth.getAccessToken()
    const thirdRefresh = (await storedToken(store)).refreshToken

    expect(new Set([first, second, third]).size).toBe(3)
    expect(new Set([firstRefresh, secondRefresh, thirdRefresh]).size).toBe(3)
    expect(op.tokenRequests() - before).toBe(2)
    expect(shown).toHaveLength(1)
    const model = await op.provider.AccessToken.find(third)
    expect(model?.accountId).toBe('user-1')
  })

  test('keeps the old refresh token when the refresh answer has none', async () => {
    const server = await scripted({
      '/device': fixedDeviceCode,
      '/token': (req, res, index) => {
        if (req.form.get('grant_type') === 'refresh_token')
          return json(res, 200, { access_token: `a${index}`, expires_in: 3600 })
        json(res, 200, { access_token: 'a0', refresh_token: 'refresh-one', expires_in: 3600 })
      },
    })
    const store = memoryStore()
    const auth = new DeviceCodeAuthenticator({
      tokenEndpoint: `${server.url}/token`,
      deviceAuthorizationEndpoint: `${server.url}/device`,
      clientId: 'cli',
      store,
      onDeviceCode: () => {},
    })
    expect(await auth.getAccessToken()).toBe('a0')
    await auth.invalidate()
    expect(await auth.getAccessToken()).toBe('a1')
    await auth.invalidate()
    expect(await auth.getAccessToken()).toBe('a2')
    const refreshes = server.requests('/token').filter((r) => r.form.get('grant_type') === 'refresh_token')
    expect(refreshes.map((r) => r.form.get('refresh_token'))).toEqual(['refresh-one', 'refresh-one'])
    expect(refreshes.map((r) => r.form.get('client_id'))).toEqual(['cli', 'cli'])
    expect((await storedToken(store)).refreshToken).toBe('refresh-one')
  })

  test('falls back to a new device flow when the refresh token is refused with invalid_grant', async () => {
    const op = await provider({ deviceInterval: 1 })
    const store = memoryStore()
    const shown: DeviceCodeResponse[] = []
    const first = await deviceAuthenticator(op, store, shown).getAccessToken()
    const stored = await storedToken(store)
    // An expired access token and a refresh token the provider does not know (revoked, expired).
    await store.set({ ...stored, expiresAt: stored.obtainedAt, refreshToken: 'revoked-refresh-token' })

    const before = op.tokenRequests()
    const second = await deviceAuthenticator(op, store, shown).getAccessToken()
    expect(second).not.toBe(first)
    expect(shown).toHaveLength(2)
    // One refresh attempt, then one poll (the code was approved as soon as it was shown).
    expect(op.tokenRequests() - before).toBe(2)
    expect((await storedToken(store)).refreshToken).not.toBe('revoked-refresh-token')
  })

  test("a slow approval does not shorten the token's life: it counts from the poll before the last", async () => {
    // 8 s tokens (skew capped at 4 s); the person approves after the third pending answer, so the token is
    // issued at least 4 s after the code was shown. Counted from the start of the flow, it would be used up.
    const op = await provider({ deviceInterval: 1, accessTokenTtl: 8 })
    const store = memoryStore()
    let userCode = ''
    const auth = new DeviceCodeAuthenticator({
      issuer: op.issuer,
      clientId: op.deviceClient.clientId,
      scopes: ['openid', 'api:read'],
      store,
      onDeviceCode: (code) => {
        userCode = code.userCode
      },
      onPending: ({ attempt }) => {
        if (attempt === 3) void op.approve(userCode)
      },
    })
    const started = Date.now()
    const token = await auth.getAccessToken()
    const { obtainedAt, expiresAt, refreshToken } = await storedToken(store)
    expect(refreshToken).toBeUndefined()
    expect(obtainedAt).toBeGreaterThanOrEqual(started + 3000)
    expect(expiresAt).toBe(obtainedAt + 8000)
    const requests = op.tokenRequests()
    expect(await auth.getAccessToken()).toBe(token)
    expect(op.tokenRequests()).toBe(requests)
  })

  test('other refresh failures are thrown, without a new device flow', async () => {
    const server = await scripted({
      '/device': fixedDeviceCode,
      '/token': (req, res) => {
        if (req.form.get('grant_type') === 'refresh_token') {
          return json(res, 400, { error: 'invalid_client', error_description: 'client disabled' })
        }
        json(res, 200, { access_token: 'a0', refresh_token: 'refresh-one', expires_in: 3600 })
      },
    })
    let shown = 0
    const auth = new DeviceCodeAuthenticator({
      tokenEndpoint: `${server.url}/token`,
      deviceAuthorizationEndpoint: `${server.url}/device`,
      clientId: 'cli',
      onDeviceCode: () => {
        shown++
      },
    })
    await auth.getAccessToken()
    await auth.invalidate()
    const error = await rejection(auth.getAccessToken())
    expect((error as AuthenticationError).error).toBe('invalid_client')
    expect(shown).toBe(1)
    expect(server.requests('/device')).toHaveLength(1)
  })

  test('constructor needs onDeviceCode and a device endpoint or issuer', () => {
    expect(
      () =>
        new DeviceCodeAuthenticator({
          tokenEndpoint: 'https://x.example/t',
          clientId: 'c',
          onDeviceCode: () => {},
        }),
    ).toThrow(/deviceAuthorizationEndpoint/)
    expect(
      () =>
        new DeviceCodeAuthenticator({
          issuer: 'https://x.example',
          clientId: 'c',
        } as ConstructorParameters<typeof DeviceCodeAuthenticator>[0]),
    ).toThrow(/onDeviceCode/)
  })
})

test.describe('authenticator.fetch', () => {
  test('adds the Bearer token; on a 401 gets a fresh token once and retries once', async () => {
    const op = await provider()
    const resource = await protectedResource(op)
    const auth = clientCredentials(op)

    const ok = await auth.fetch(`${resource.url}/items`)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ client: op.confidentialClient.clientId, echo: '' })
    const first = resource.requests[0]?.authorization
    expect(first).toMatch(/^Bearer /)

    // The provider revokes the token: the resource answers 401, the authenticator renews and retries.
    await revoke(op, (first ?? '').slice(7))
    const posted = await auth.fetch(`${resource.url}/items`, {
      method: 'POST',
      body: 'name=widget',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-trace': '1' },
    })
    expect(posted.status).toBe(200)
    expect(await posted.json()).toMatchObject({ echo: 'name=widget' })
    expect(resource.requests.map((r) => r.status)).toEqual([200, 401, 200])
    expect(resource.requests[2]?.body).toBe('name=widget')
    expect(resource.requests[2]?.authorization).not.toBe(first)
    expect(op.tokenRequests()).toBe(2)
  })

  test('a Request with a body is replayed from a clone; stream and async iterable bodies are not retried', async () => {
    const op = await provider()
    const resource = await protectedResource(op)
    const auth = clientCredentials(op)
    const token = await auth.getAccessToken()

    await revoke(op, token)
    const replayed = await auth.fetch(new Request(`${resource.url}/a`, { method: 'PUT', body: 'payload' }))
    expect(replayed.status).toBe(200)
    expect(resource.requests.map((r) => [r.status, r.body])).toEqual([
      [401, 'payload'],
      [200, 'payload'],
    ])

    await revoke(op, await auth.getAccessToken())
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'))
        controller.close()
      },
    })
    const streamed = await auth.fetch(`${resource.url}/b`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit)
    expect(streamed.status).toBe(401)
    expect(resource.requests).toHaveLength(3)
    expect(resource.requests[2]).toMatchObject({ status: 401, body: 'streamed' })
    // The rejected token was dropped all the same: the next call gets a fresh one.
    const requestsBefore = op.tokenRequests()
    expect((await auth.fetch(`${resource.url}/c`)).status).toBe(200)
    expect(op.tokenRequests()).toBe(requestsBefore + 1)

    // Node's fetch also takes an async iterable as a body: read once, as it is sent.
    await revoke(op, await auth.getAccessToken())
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode('iterated')
    }
    const iterated = await auth.fetch(`${resource.url}/d`, {
      method: 'POST',
      body: chunks(),
      duplex: 'half',
    } as unknown as RequestInit)
    expect(iterated.status).toBe(401)
    expect(resource.requests).toHaveLength(5)
    expect(resource.requests[4]).toMatchObject({ status: 401, body: 'iterated' })
  })

  test('a token without expires_in is reused until a 401 says otherwise', async () => {
    const server = await scripted({
      '/token': (_req, res, index) => json(res, 200, { access_token: `t${index + 1}`, token_type: 'Bearer' }),
      '/api': (req, res) =>
        req.headers.authorization === 'Bearer t2' ? json(res, 200, { ok: true }) : json(res, 401, {}),
    })
    const auth = new ClientCredentialsAuthenticator({
      tokenEndpoint: `${server.url}/token`,
      clientId: 'c',
      clientSecret: 'secret',
    })
    expect(await auth.getAccessToken()).toBe('t1')
    expect(await auth.getAccessToken()).toBe('t1')
    expect(server.requests('/token')).toHaveLength(1)

    const res = await auth.fetch(`${server.url}/api`)
    expect(res.status).toBe(200)
    expect(server.requests('/api').map((r) => r.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2'])
    expect(await auth.getAccessToken()).toBe('t2')
    expect(server.requests('/token')).toHaveLength(2)
  })
})

test.describe('stores', () => {
  test('fileStore: mode 0600, atomic replace by rename, no temporary files left, bad content reads as none', async () => {
    const dir = await temporaryDirectory()
    const path = join(dir, 'nested', 'token.json')
    const store = fileStore(path)
    expect(await store.get()).toBeUndefined()

    const token: StoredToken = { accessToken: 'a', refreshToken: 'r', obtainedAt: 1, expiresAt: 2 }
    await store.set(token)
    const first = await stat(path)
    expect(first.mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700)
    expect(await store.get()).toEqual(token)

    await store.set({ ...token, accessToken: 'b' })
    const second = await stat(path)
    // A new inode: the file was replaced by rename(2), never rewritten in place.
    expect(second.ino).not.toBe(first.ino)
    expect(second.mode & 0o777).toBe(0o600)
    expect((await store.get())?.accessToken).toBe('b')
    expect(await readdir(join(dir, 'nested'))).toEqual(['token.json'])

    await writeFile(path, '{"accessToken": 42}')
    expect(await store.get()).toBeUndefined()
    await writeFile(path, 'not json')
    expect(await store.get()).toBeUndefined()
    await store.delete()
    await expect(readFile(path)).rejects.toThrow(/ENOENT/)
    await store.delete()
  })

  test('a stored token survives a restart: a second process reuses it without a new flow', async () => {
    const op = await provider({ deviceInterval: 1 })
    const path = join(await temporaryDirectory(), 'token.json')
    // Prints the user code (when a device flow starts) and the access token, one JSON line each.
    const program = `
      import { DeviceCodeAuthenticator } from 'token-client'
      import { fileStore } from 'token-client/node'
      const config = JSON.parse(process.env.AUTHENTICATOR_CONFIG)
      const auth = new DeviceCodeAuthenticator({
        issuer: config.issuer,
        clientId: config.clientId,
        scopes: config.scopes,
        store: fileStore(config.path),
        onDeviceCode: (code) => console.log(JSON.stringify({ userCode: code.userCode })),
      })
      console.log(JSON.stringify({ accessToken: await auth.getAccessToken() }))
    `
    const config = { issuer: op.issuer, clientId: op.deviceClient.clientId, scopes: deviceScopes, path }
    const startChild = () =>
      closedAfterTest(
        startProcess(process.execPath, ['--input-type=module', '-e', program], {
          env: { ...process.env, AUTHENTICATOR_CONFIG: JSON.stringify(config) },
        }),
      )
    /** Runs the program to its end, approving the device code it shows, if any, as a person would. */
    const runChild = async (): Promise<{ codes: string[]; accessToken: string }> => {
      const child = startChild()
      // The code as soon as it is printed, or undefined once the program ended without one.
      const userCode = await child.waitFor('stdout', /\{"userCode":"([^"]+)"\}/).then(
        (match) => match[1],
        () => undefined,
      )
      if (userCode !== undefined) await op.approve(userCode)
      const { code, stdout, stderr } = await child.exited
      expect(code, stderr).toBe(0)
      const lines = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { userCode?: string; accessToken?: string })
      return {
        codes: lines.flatMap((line) => (line.userCode === undefined ? [] : [line.userCode])),
        accessToken: lines.find((line) => line.accessToken !== undefined)?.accessToken ?? '',
      }
    }

    const first = await runChild()
    expect(first.codes).toHaveLength(1)
    const requestsAfterFirst = op.tokenRequests()
    const stored = JSON.parse(await readFile(path, 'utf8')) as StoredToken
    expect(stored.accessToken).toBe(first.accessToken)
    expect(stored.expiresAt).toBeGreaterThan(Date.now())
    expect((await stat(path)).mode & 0o777).toBe(0o600)

    const second = await runChild()
    expect(second.codes).toHaveLength(0)
    expect(second.accessToken).toBe(first.accessToken)
    expect(op.tokenRequests()).toBe(requestsAfterFirst)
  })
})
