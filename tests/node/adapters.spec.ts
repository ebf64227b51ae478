/**
 * The seed's `http_proxy_url` and `verify` in Node, through `nodeAdapter` (token-client/node, npm undici):
 * a real forward proxy (npm `proxy`) that records what it carries, a real HTTPS token endpoint whose
 * certificate is signed by a throwaway CA (npm `selfsigned`), and the oidc-provider fixture as the target.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import ky from 'ky'
import { generate } from 'selfsigned'
import { AuthenticationError, getBasicAuthorizationHeader, getToken } from 'token-client'
import { nodeAdapter } from 'token-client/node'
import { startProcess } from '../fixtures/child-process.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { rejection } from '../fixtures/hostile.ts'
import { type OidcFixture, startOidcProvider } from '../fixtures/oidc.ts'
import { type StartProxyOptions, startProxy, type TestProxy } from '../fixtures/proxy.ts'
import { json, startScriptedServer } from '../fixtures/scripted-server.ts'
import { createTestCa, type HttpsTokenServer, startHttpsTokenServer, type TestCa } from '../fixtures/tls.ts'
import { packageWithoutUndici } from '../fixtures/without-undici.ts'

const closedAfterTest = closeAfterEach(test)

async function provider(): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider())
}

async function proxy(options?: StartProxyOptions): Promise<TestProxy> {
  return closedAfterTest(await startProxy(options))
}

async function testCa(): Promise<TestCa> {
  return closedAfterTest(await createTestCa())
}

async function httpsTokenServer(ca: TestCa): Promise<HttpsTokenServer> {
  return closedAfterTest(await startHttpsTokenServer(ca))
}

/** Client credentials against the oidc-provider fixture, with extra transport options. */
function clientCredentials(op: OidcFixture, transport: Parameters<typeof getToken>[1] = {}) {
  const { clientId, clientSecret } = op.confidentialClient
  return getToken(op.tokenEndpoint, {
    authorizationHeader: getBasicAuthorizationHeader(clientId, clientSecret),
    scopes: ['api:read'],
    ...transport,
  })
}

test.describe('httpProxyUrl', () => {
  test('an http:// token endpoint is reached through the proxy (forwarded request)', async () => {
    const op = await provider()
    const forward = await proxy()
    const token = await clientCredentials(op, { adapter: nodeAdapter, httpProxyUrl: forward.url })
    expect(token.accessToken).toEqual(expect.any(String))
    expect(token.scope).toBe('api:read')
    expect(forward.requests()).toBe(1)
    expect(forward.connects()).toBe(0)
    expect(forward.carried()[0]).toMatchObject({ kind: 'request', target: op.tokenEndpoint })
    expect(op.tokenRequests()).toBe(1)
  })

  test('credentials in the proxy URL are sent as Proxy-Authorization; without them the proxy refuses', async () => {
    const op = await provider()
    const guarded = await proxy({ credentials: { username: 'proxy user', password: 'p@ss:w/rd%' } })
    expect(guarded.urlWithCredentials).toContain('%40')

    const token = await clientCredentials(op, {
      adapter: nodeAdapter,
      httpProxyUrl: guarded.urlWithCredentials,
    })
    expect(token.accessToken).toEqual(expect.any(String))
    expect(guarded.requests()).toBe(1)
    expect(guarded.carried()[0]).toMatchObject({
      kind: 'request',
      withProxyAuthorization: true,
      authorized: true,
    })
    // Proxy-Authorization is hop-by-hop: the proxy strips it, the authorization server never sees it.
    expect(op.tokenRequests()).toBe(1)

    const refused = await rejection(
      clientCredentials(op, { adapter: nodeAdapter, httpProxyUrl: guarded.url }),
    )
    expect(refused).toBeInstanceOf(AuthenticationError)
    // undici reports a 407 from a forwarding proxy as a transport failure, not as a response.
    expect((refused as Error).message).toMatch(/Proxy Authentication Required \(407\)/)
    expect(guarded.carried()[1]).toMatchObject({ withProxyAuthorization: false, authorized: false })
    expect(guarded.requests()).toBe(1)
    expect(op.tokenRequests()).toBe(1)
    // The password never shows up in what the caller sees.
    expect(String(refused)).not.toContain('p@ss')
    expect(JSON.stringify(refused)).not.toContain('p@ss')
  })

  test('an https:// token endpoint is tunnelled through the proxy with CONNECT', async () => {
    const ca = await testCa()
    const server = await httpsTokenServer(ca)
    const tunnel = await proxy({ credentials: { username: 'u', password: 'secret' } })
    const token = await getToken(server.tokenEndpoint, {
      clientId: 'client',
      adapter: nodeAdapter,
      httpProxyUrl: tunnel.urlWithCredentials,
      verify: ca.caPem,
    })
    expect(token.accessToken).toBe('tls-token')
    expect(tunnel.connects()).toBe(1)
    expect(tunnel.requests()).toBe(0)
    expect(tunnel.carried()[0]).toMatchObject({
      kind: 'connect',
      target: new URL(server.url).host,
      withProxyAuthorization: true,
    })
    expect(server.tokenRequests()).toBe(1)
  })

  test('an https:// proxy is verified with the same CA bundle', async () => {
    const ca = await testCa()
    const op = await provider()
    const tlsProxy = await proxy({ tls: ca })
    expect(tlsProxy.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)

    const token = await clientCredentials(op, {
      adapter: nodeAdapter,
      httpProxyUrl: tlsProxy.url,
      verify: ca.caPath,
    })
    expect(token.accessToken).toEqual(expect.any(String))
    expect(tlsProxy.requests()).toBe(1)
    expect(op.tokenRequests()).toBe(1)

    // Without the CA, the TLS connection to the proxy itself fails the certificate check.
    const untrusted = await rejection(
      clientCredentials(op, { adapter: nodeAdapter, httpProxyUrl: tlsProxy.url }),
    )
    expect(untrusted).toBeInstanceOf(AuthenticationError)
    expect((untrusted as Error).message).toMatch(/certificate/i)
    expect(op.tokenRequests()).toBe(1)
  })

  test('a malformed proxy URL is a TypeError that does not echo it', async () => {
    const op = await provider()
    for (const httpProxyUrl of ['user:hunter2@nope', 'http://user:hunter2%zz@127.0.0.1:3128']) {
      const error = await rejection(clientCredentials(op, { adapter: nodeAdapter, httpProxyUrl }))
      expect(error).toBeInstanceOf(TypeError)
      expect((error as Error).message).toMatch(/^httpProxyUrl/)
      expect((error as Error).message).not.toContain('hunter2')
    }
    const socks = await rejection(
      clientCredentials(op, { adapter: nodeAdapter, httpProxyUrl: 'ftp://127.0.0.1:1' }),
    )
    expect((socks as Error).message).toMatch(/http:\/\/ or https:\/\//)
    expect(op.tokenRequests()).toBe(0)
  })
})

test.describe('verify', () => {
  test('the default check fails on an unknown CA with an AuthenticationError that says it is a certificate problem', async () => {
    const ca = await testCa()
    const server = await httpsTokenServer(ca)
    // Node's own fetch (no adapter) and nodeAdapter with the default verify agree.
    for (const options of [{}, { adapter: nodeAdapter }, { adapter: nodeAdapter, verify: true }]) {
      const error = await rejection(getToken(server.tokenEndpoint, { clientId: 'client', ...options }))
      expect(error).toBeInstanceOf(AuthenticationError)
      expect((error as Error).message).toMatch(/certificate/i)
      expect((error as Error).message).toContain('SELF_SIGNED_CERT_IN_CHAIN')
      expect((error as Error).message).toContain(server.url)
    }
    expect(server.tokenRequests()).toBe(0)
  })

  test('verify: CA file path, PEM text and false all succeed', async () => {
    const ca = await testCa()
    const server = await httpsTokenServer(ca)
    for (const verify of [ca.caPath, ca.caPem, false]) {
      const token = await getToken(server.tokenEndpoint, { clientId: 'client', adapter: nodeAdapter, verify })
      expect(token.accessToken).toBe('tls-token')
      expect(token.expiresIn).toBe(300)
    }
    expect(server.tokenRequests()).toBe(3)
  })

  test('a CA bundle that trusts another CA still fails the check', async () => {
    const ca = await testCa()
    const server = await httpsTokenServer(ca)
    const unrelated = (await generate([{ name: 'commonName', value: 'another CA' }], { algorithm: 'sha256' }))
      .cert
    const error = await rejection(
      getToken(server.tokenEndpoint, { clientId: 'client', adapter: nodeAdapter, verify: unrelated }),
    )
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as Error).message).toMatch(/certificate/i)
  })

  test('an unreadable CA path or a file without a certificate is a TypeError naming verify', async () => {
    const ca = await testCa()
    const server = await httpsTokenServer(ca)
    const missing = await rejection(
      getToken(server.tokenEndpoint, {
        clientId: 'client',
        adapter: nodeAdapter,
        verify: `${ca.caPath}.missing`,
      }),
    )
    expect(missing).toBeInstanceOf(TypeError)
    expect((missing as Error).message).toMatch(/^verify: cannot read the CA bundle file/)
    const notPem = await rejection(
      getToken(server.tokenEndpoint, { clientId: 'client', adapter: nodeAdapter, verify: 'package.json' }),
    )
    expect(notPem).toBeInstanceOf(TypeError)
    expect((notPem as Error).message).toMatch(/no PEM certificate/)
    expect(server.tokenRequests()).toBe(0)
  })
})

test.describe('dispatchers', () => {
  test('one fetch per distinct setting, reused: sequential requests share one keep-alive connection', async () => {
    const ca = await testCa()
    const server = await httpsTokenServer(ca)
    expect(nodeAdapter({ verify: ca.caPem })).toBe(nodeAdapter({ verify: ca.caPem }))
    expect(nodeAdapter({})).toBe(nodeAdapter({ verify: true }))
    expect(nodeAdapter({ verify: ca.caPem })).not.toBe(nodeAdapter({ verify: ca.caPath }))
    expect(nodeAdapter({ verify: ca.caPem })).not.toBe(
      nodeAdapter({ verify: ca.caPem, httpProxyUrl: 'http://127.0.0.1:9' }),
    )

    // A setting no other test uses, so the pool starts empty here.
    const verify = `${ca.caPem}\n`
    for (let i = 0; i < 3; i++) {
      await getToken(server.tokenEndpoint, { clientId: 'client', adapter: nodeAdapter, verify })
      // undici frees a connection a macrotask after the body ends; a request sent in the same tick opens another.
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(server.tokenRequests()).toBe(3)
    expect(server.connections()).toBe(1)
  })
})

test.describe('session and adapter together', () => {
  test("the session's headers and hooks apply, and the adapter's proxy carries the request", async () => {
    const op = await provider()
    const forward = await proxy()
    const hookCalls: string[] = []
    const session = ky.create({
      headers: { 'x-session': '1' },
      hooks: {
        beforeRequest: [
          ({ request }) => {
            hookCalls.push(request.url)
            request.headers.set('x-hook', 'seen')
          },
        ],
      },
    })
    const token = await clientCredentials(op, { session, adapter: nodeAdapter, httpProxyUrl: forward.url })
    expect(token.accessToken).toEqual(expect.any(String))
    expect(hookCalls).toEqual([op.tokenEndpoint])
    expect(forward.requests()).toBe(1)
    const carried = forward.carried()[0]
    expect(carried?.target).toBe(op.tokenEndpoint)
    expect(carried?.headers['x-session']).toBe('1')
    expect(carried?.headers['x-hook']).toBe('seen')
    // The library's own headers survive the session's.
    expect(carried?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/)
    expect(carried?.headers.authorization).toMatch(/^Basic /)
    expect(op.tokenRequests()).toBe(1)
  })
})

test.describe('session retry settings with an adapter', () => {
  test("the session's retry settings apply to the adapter's fetch: a reset connection is retried", async () => {
    // A connection reset on demand is what no real authorization server does: the scripted server does it.
    const server = await startScriptedServer({
      '/token': (req, res, index) => {
        if (index === 0) {
          req.socket.destroy()
          return
        }
        json(res, 200, { access_token: 'after-retry', token_type: 'Bearer', expires_in: 60 })
      },
    })
    closedAfterTest(server)
    const retried: number[] = []
    const session = ky.create({
      retry: { limit: 2, methods: ['post'], delay: () => 0 },
      hooks: { beforeRetry: [({ retryCount }) => void retried.push(retryCount)] },
    })
    const token = await getToken(`${server.url}/token`, {
      clientId: 'client',
      session,
      adapter: nodeAdapter,
      verify: true,
    })
    expect(token.accessToken).toBe('after-retry')
    expect(retried).toEqual([1])
    expect(server.requests('/token')).toHaveLength(2)
    // The retried request carried the same form.
    expect(server.requests('/token')[1]?.form.get('client_id')).toBe('client')

    // Without the session's retry settings, a credentialed POST is never retried.
    server.route('/token', (req) => void req.socket.destroy())
    const error = await rejection(
      getToken(`${server.url}/token`, { clientId: 'client', adapter: nodeAdapter }),
    )
    expect(error).toBeInstanceOf(AuthenticationError)
    expect(server.requests('/token')).toHaveLength(3)
  })
})

test.describe('without an adapter', () => {
  test('httpProxyUrl or a non-default verify is a TypeError naming nodeAdapter; nothing is sent', async () => {
    const op = await provider()
    for (const options of [
      { httpProxyUrl: 'http://127.0.0.1:3128' },
      { verify: false },
      { verify: '/etc/ca.pem' },
    ]) {
      const error = await rejection(clientCredentials(op, options))
      expect(error).toBeInstanceOf(TypeError)
      const option = Object.keys(options)[0]
      expect((error as Error).message).toBe(
        `${option} needs a fetch adapter: import { nodeAdapter } from 'token-client/node' and pass { adapter: nodeAdapter }.`,
      )
    }
    expect(op.tokenRequests()).toBe(0)
    // verify: true is the default: allowed without an adapter.
    await expect(clientCredentials(op, { verify: true })).resolves.toMatchObject({ scope: 'api:read' })
  })
})

test('the core bundle does not import undici or any Node built-in; the node entry does', async () => {
  const core = await readFile(new URL('../../dist/index.js', import.meta.url), 'utf8')
  expect(core).not.toMatch(/undici/)
  expect(core).not.toMatch(/from\s+["'](node:|fs|http|https|net|tls|crypto|buffer)["']/)
  const imports = [...core.matchAll(/^import .* from ["']([^"']+)["'];?$/gm)].map((m) => m[1])
  expect(new Set(imports)).toEqual(new Set(['ky', 'valibot']))
  // undici is an optional peer dependency: imported on the first request only, never statically.
  const node = await readFile(new URL('../../dist/node.js', import.meta.url), 'utf8')
  expect(node).not.toMatch(/from\s*["']undici["']/)
  expect(node).toMatch(/import\("undici"\)/)
  const deno = await readFile(new URL('../../dist/deno.js', import.meta.url), 'utf8')
  expect(deno).not.toMatch(/^import /m)
})

test('without undici installed, token-client/node imports; nodeAdapter is a TypeError saying npm install undici', async () => {
  const pkg = closedAfterTest(await packageWithoutUndici())
  const server = closedAfterTest(await startScriptedServer({ '/token': (_req, res) => json(res, 200, {}) }))
  const script = join(pkg.dir, 'without-undici.mjs')
  await writeFile(
    script,
    `import { getToken } from 'token-client'
import { fileStore, nodeAdapter } from 'token-client/node'
const describe = (err) => ({ name: err.name, message: err.message })
const out = { fileStore: typeof fileStore('${join(pkg.dir, 'store.json')}').get }
try { nodeAdapter({}) } catch (err) { out.adapter = describe(err) }
await getToken('${server.url}/token', { authorizationHeader: 'Basic eDp5', adapter: nodeAdapter, httpProxyUrl: 'http://127.0.0.1:9' })
  .catch((err) => { out.getToken = describe(err) })
console.log(JSON.stringify(out))
`,
  )
  const result = await closedAfterTest(startProcess(process.execPath, [script], { cwd: pkg.dir })).exited
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  const hint = { name: 'TypeError', message: 'nodeAdapter needs the undici package: npm install undici' }
  expect(JSON.parse(result.stdout)).toEqual({ fileStore: 'function', adapter: hint, getToken: hint })
  expect(server.requests()).toHaveLength(0)
})
