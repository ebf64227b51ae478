/**
 * The CLI as a credential helper, run as child processes (dist/cli.js) against the real oidc-provider, each test
 * with its own TOKEN_CLIENT_HOME: `login` (device flow approved in the background, or `--browser --no-open`
 * with the person's part done by authorizeInteractively), `token` from the cache (no request), after expiry
 * (one refresh, also for 20 processes at once), without a session (exit 1 and the login to run), `logout`
 * (the provider refuses the refresh token afterwards), `status` (never a token), profiles and precedence,
 * the output formats, proxies from the environment, and kubectl (a real client-go) using `token` as its exec
 * credential plugin against an HTTPS stand-in API server.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import { AuthenticationError, GrantType, getToken } from 'token-client'
import { startProcess } from '../fixtures/child-process.ts'
import { cleanEnv, cliHome, deviceSettings, expectNothingSecret, sessionFiles } from '../fixtures/cli-home.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { listenOnLoopback } from '../fixtures/listen.ts'
import {
  authorizeInteractively,
  type OidcFixture,
  type StartOidcProviderOptions,
  startOidcProvider,
} from '../fixtures/oidc.ts'
import { startProxy } from '../fixtures/proxy.ts'
import { createTestCa, type TestCa } from '../fixtures/tls.ts'

const cli = 'dist/cli.js'
const kubectl = '/usr/bin/kubectl'
const closedAfterTest = closeAfterEach(test)
const { tempDir, start, run, loginWithDevice, onlySession, expire } = cliHome(closedAfterTest)

async function provider(opts?: StartOidcProviderOptions): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider({ deviceInterval: 1, ...opts }))
}

test.describe('token-client as a credential helper', () => {
  test('login (device flow), then token from the cache twice, status, logout: the server refuses the refresh token afterwards', async () => {
    const op = await provider()
    const home = await tempDir('cli-home-')
    await loginWithDevice(op, home, deviceSettings(op))

    const { file, data } = await onlySession(home)
    // sessions/<the first 32 hex digits of SHA-256 of [kind, binding]>.json, the binding the authenticators use.
    const binding = JSON.stringify([op.issuer, op.deviceClient.clientId, ['offline_access', 'openid'], null])
    expect(data.binding).toBe(binding)
    const name = createHash('sha256')
      .update(JSON.stringify(['user', binding]))
      .digest('hex')
      .slice(0, 32)
    expect(file).toBe(join(home, 'sessions', `${name}.json`))
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await stat(join(home, 'sessions'))).mode & 0o777).toBe(0o700)
    expect((await stat(home)).mode & 0o777).toBe(0o700)
    expect(data.session).toMatchObject({
      kind: 'user',
      issuer: op.issuer,
      clientId: op.deviceClient.clientId,
      flow: 'device',
    })
    const refreshToken = String(data.refreshToken)
    expect(refreshToken.length).toBeGreaterThan(10)

    const requestsAfterLogin = op.tokenRequests()
    const first = await run(home, ['token', ...deviceSettings(op)])
    const second = await run(home, ['token', ...deviceSettings(op)])
    expect(first.code).toBe(0)
    expect(first.stderr).toBe('')
    expect(first.stdout).toMatch(/^[\w-]+\n$/)
    expect(second.stdout).toBe(first.stdout)
    expect(op.tokenRequests()).toBe(requestsAfterLogin)
    const accessToken = first.stdout.trim()
    expect((await op.provider.AccessToken.find(accessToken))?.accountId).toBe('user-1')

    const status = await run(home, ['status'])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain(`issuer:         ${op.issuer}`)
    expect(status.stdout).toContain(`client id:      ${op.deviceClient.clientId}`)
    expect(status.stdout).toContain('scopes:         openid offline_access')
    expect(status.stdout).toMatch(/access token: {3}valid until \d{4}-\d\d-\d\dT/)
    expect(status.stdout).toContain('refresh token:  present')
    expectNothingSecret(status, accessToken, refreshToken)
    const statusJson = await run(home, ['status', '--json'])
    const rows = JSON.parse(statusJson.stdout) as Array<Record<string, unknown>>
    expect(rows).toMatchObject([
      { issuer: op.issuer, clientId: op.deviceClient.clientId, accessTokenValid: true, refreshToken: true },
    ])
    expectNothingSecret(statusJson, accessToken, refreshToken)

    const logout = await run(home, ['logout', ...deviceSettings(op)])
    expect(logout.stderr).toContain('the server revoked the tokens')
    expect(logout.code).toBe(0)
    expect(await sessionFiles(home)).toEqual([])
    const refused = await getToken(op.tokenEndpoint, {
      grantType: GrantType.REFRESH_TOKEN,
      refreshToken,
      clientId: op.deviceClient.clientId,
    }).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(AuthenticationError)
    expect((refused as AuthenticationError).error).toBe('invalid_grant')
    expect(await op.provider.AccessToken.find(accessToken)).toBeUndefined()

    const again = await run(home, ['logout', ...deviceSettings(op)])
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('nothing to sign out of')
  })

  test('token after expiry refreshes once; 20 processes at once after expiry make one refresh and print one token', async () => {
    const op = await provider()
    const home = await tempDir('cli-home-')
    await loginWithDevice(op, home, deviceSettings(op))
    const before = (await run(home, ['token', ...deviceSettings(op)])).stdout

    await expire(home)
    const requests = op.tokenRequests()
    const renewed = await run(home, ['token', ...deviceSettings(op), '--json'])
    expect(renewed.stderr).toBe('')
    expect(renewed.code).toBe(0)
    expect(op.tokenRequests()).toBe(requests + 1)
    const body = JSON.parse(renewed.stdout) as Record<string, unknown>
    expect(body.access_token).not.toBe(before.trim())
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'openid offline_access' })
    expect(body.refresh_token).toBeUndefined()
    expect(Date.parse(String(body.expires_at))).toBeGreaterThan(Date.now() + 3_500_000)
    expect(await op.provider.AccessToken.find(String(body.access_token))).toBeTruthy()
    // The rotated refresh token is what the session keeps now.
    expect((await onlySession(home)).data.expiresAt).toBe(Date.parse(String(body.expires_at)))

    await expire(home)
    const crowd = await Promise.all(
      Array.from({ length: 20 }, () => run(home, ['token', ...deviceSettings(op)])),
    )
    expect(crowd.map((result) => result.code)).toEqual(Array(20).fill(0))
    expect(new Set(crowd.map((result) => result.stdout)).size).toBe(1)
    expect(crowd[0]?.stdout).not.toBe(`${body.access_token}\n`)
    expect(op.tokenRequests()).toBe(requests + 2)
    expect(await op.provider.AccessToken.find(crowd[0]?.stdout.trim() ?? '')).toBeTruthy()
  })

  test('without a session, or when the refresh token is refused, token exits 1 with the login to run and prints nothing', async () => {
    const op = await provider()
    const home = await tempDir('cli-home-')
    const none = await run(home, ['token', ...deviceSettings(op), '--output', 'header'])
    expect(none.code).toBe(1)
    expect(none.stdout).toBe('')
    expect(none.stderr).toContain('No session for')
    expect(none.stderr).toContain(
      `    token-client login --issuer ${op.issuer} --client-id ${op.deviceClient.clientId} --scope 'openid offline_access'\n`,
    )
    expect(op.tokenRequests()).toBe(0)

    // The refresh token revoked behind the CLI's back: the refresh is refused, and no sign-in starts.
    await loginWithDevice(op, home, deviceSettings(op))
    const { data } = await onlySession(home)
    const revocation = await fetch(`${op.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: String(data.refreshToken), client_id: op.deviceClient.clientId }),
    })
    expect(revocation.status).toBe(200)
    await expire(home)
    const refused = await run(home, ['token', ...deviceSettings(op)])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toContain('refused its refresh token')
    expect(refused.stderr).toContain(`token-client login --issuer ${op.issuer}`)
    expect(refused.stderr).not.toContain('enter the code')
  })

  test('token --login signs in first when there is no session, then uses the cache', async () => {
    const op = await provider()
    const home = await tempDir('cli-home-')
    const started = start(home, ['token', '--login', ...deviceSettings(op)])
    const [, userCode] = await started.waitFor('stderr', /enter the code:\s+(\S+)\n/)
    await op.approve(userCode ?? '')
    const result = await started.exited
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^[\w-]+\n$/)
    const requests = op.tokenRequests()
    const cached = await run(home, ['token', '--login', ...deviceSettings(op)])
    expect(cached.stdout).toBe(result.stdout)
    expect(cached.stderr).toBe('')
    expect(op.tokenRequests()).toBe(requests)
  })

  test('login --browser --no-open: the URL on stderr, the person signs in, the session refreshes', async () => {
    const op = await provider()
    const home = await tempDir('cli-home-')
    const settings = [
      '--issuer',
      op.issuer,
      '--client-id',
      op.cliClient.clientId,
      '--scope',
      'openid offline_access',
    ]
    const login = start(home, ['login', '--browser', '--no-open', ...settings])
    const [, url] = await login.waitFor('stderr', /open this page in a browser:\s+(\S+)\n/)
    const authorizationUrl = new URL(url ?? '')
    expect(authorizationUrl.searchParams.get('prompt')).toBe('consent')
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256')
    // The person's part; the browser would then follow the redirect to the CLI's loopback server.
    const callback = await authorizeInteractively(authorizationUrl)
    const landed = await fetch(callback)
    expect(landed.status).toBe(200)
    const result = await login.exited
    expect(result.stderr).toContain('Signed in to')
    expect(result.code).toBe(0)
    const { data } = await onlySession(home)
    expect(data.refreshToken).toBeTruthy()
    expect(data.session).toMatchObject({ flow: 'browser', clientId: op.cliClient.clientId })

    const token = await run(home, ['token', ...settings])
    expect(token.code).toBe(0)
    expect(await op.provider.AccessToken.find(token.stdout.trim())).toBeTruthy()
    await expire(home)
    const requests = op.tokenRequests()
    const renewed = await run(home, ['token', ...settings])
    expect(renewed.code).toBe(0)
    expect(renewed.stdout).not.toBe(token.stdout)
    expect(op.tokenRequests()).toBe(requests + 1)
  })

  test('profiles: login --save-profile writes config.json; flags win over TOKEN_CLIENT_* which win over the profile', async () => {
    const op = await provider()
    const home = await tempDir('cli-home-')
    await loginWithDevice(op, home, [...deviceSettings(op), '--save-profile', 'work'])
    const configFile = join(home, 'config.json')
    expect((await stat(configFile)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(configFile, 'utf8'))).toEqual({
      profiles: {
        work: { issuer: op.issuer, clientId: op.deviceClient.clientId, scopes: ['openid', 'offline_access'] },
      },
    })

    const byProfile = await run(home, ['token', '--profile', 'work'])
    expect(byProfile.code).toBe(0)
    expect(await op.provider.AccessToken.find(byProfile.stdout.trim())).toBeTruthy()
    const byEnvProfile = await run(home, ['token'], { TOKEN_CLIENT_PROFILE: 'work' })
    expect(byEnvProfile.stdout).toBe(byProfile.stdout)

    // The environment's client id beats the profile's: another session, which does not exist.
    const envWins = await run(home, ['token', '--profile', 'work'], {
      TOKEN_CLIENT_CLIENT_ID: 'someone-else',
    })
    expect(envWins.code).toBe(1)
    expect(envWins.stderr).toContain('client someone-else')
    expect(envWins.stderr).toContain('Sign in (with TOKEN_CLIENT_CLIENT_ID set as now) with:')
    expect(envWins.stderr).toContain('    token-client login --profile work\n')
    // A flag beats the environment.
    const flagWins = await run(
      home,
      ['token', '--profile', 'work', '--client-id', op.deviceClient.clientId],
      {
        TOKEN_CLIENT_CLIENT_ID: 'someone-else',
      },
    )
    expect(flagWins.stdout).toBe(byProfile.stdout)
    // The environment alone, no profile.
    const byEnv = await run(home, ['token'], {
      TOKEN_CLIENT_ISSUER: op.issuer,
      TOKEN_CLIENT_CLIENT_ID: op.deviceClient.clientId,
      TOKEN_CLIENT_SCOPE: 'offline_access openid',
    })
    expect(byEnv.stdout).toBe(byProfile.stdout)

    const status = await run(home, ['status', '--json'])
    expect(JSON.parse(status.stdout)).toMatchObject([{ profiles: ['work'] }])

    const unknown = await run(home, ['token', '--profile', 'home'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('No profile "home"')
    await writeFile(
      configFile,
      JSON.stringify({ profiles: { work: { issuer: op.issuer, clientID: 'typo' } } }),
    )
    const bad = await run(home, ['token', '--profile', 'work'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('profile "work": unknown key "clientID"')
  })

  test('--output header and json; exec-credential with the apiVersion KUBERNETES_EXEC_INFO asks for', async () => {
    const op = await provider()
    const home = await tempDir('cli-home-')
    await loginWithDevice(op, home, deviceSettings(op))
    const plain = (await run(home, ['token', ...deviceSettings(op)])).stdout.trim()
    const header = await run(home, ['token', ...deviceSettings(op), '--output', 'header'])
    expect(header.stdout).toBe(`Authorization: Bearer ${plain}\n`)
    const expiresAt = Number((await onlySession(home)).data.expiresAt)

    for (const apiVersion of ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1']) {
      const exec = await run(home, ['token', ...deviceSettings(op), '--output', 'exec-credential'], {
        KUBERNETES_EXEC_INFO: JSON.stringify({
          kind: 'ExecCredential',
          apiVersion,
          spec: { interactive: false },
        }),
      })
      expect(exec.code).toBe(0)
      expect(JSON.parse(exec.stdout)).toEqual({
        kind: 'ExecCredential',
        apiVersion,
        spec: {},
        status: {
          token: plain,
          expirationTimestamp: new Date(expiresAt).toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      })
    }
    const unknownVersion = await run(home, ['token', ...deviceSettings(op), '--output', 'exec-credential'], {
      KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v2', spec: {} }),
    })
    expect(unknownVersion.code).toBe(2)
    expect(unknownVersion.stdout).toBe('')

    // Not interactive and no session: exit 1 with the login, even with --login.
    const elsewhere = await tempDir('cli-home-')
    const noPerson = await run(
      elsewhere,
      ['token', '--login', ...deviceSettings(op), '--output', 'exec-credential'],
      {
        KUBERNETES_EXEC_INFO: JSON.stringify({
          apiVersion: 'client.authentication.k8s.io/v1',
          spec: { interactive: false },
        }),
      },
    )
    expect(noPerson.code).toBe(1)
    expect(noPerson.stdout).toBe('')
    expect(noPerson.stderr).toContain('non-interactively')
    expect(noPerson.stderr).toContain('token-client login --issuer')
  })

  test('client-credentials --cache reuses the service token until it expires', async () => {
    const op = await provider()
    const home = await tempDir('cli-home-')
    const { clientId, clientSecret } = op.confidentialClient
    const args = [
      'client-credentials',
      '--issuer',
      op.issuer,
      '--client-id',
      clientId,
      '--scope',
      'api:read',
      '--cache',
    ]
    const env = { TOKEN_CLIENT_SECRET: clientSecret }
    const first = await run(home, args, env)
    const second = await run(home, [...args, '--output', 'header'], env)
    expect(first.code).toBe(0)
    expect(second.stdout).toBe(`Authorization: Bearer ${first.stdout.trim()}\n`)
    expect(op.tokenRequests()).toBe(1)
    expect(await op.provider.ClientCredentials.find(first.stdout.trim())).toBeTruthy()
    const files = await sessionFiles(home)
    expect(files).toHaveLength(1)
    expect(await readFile(files[0] as string, 'utf8')).not.toContain(clientSecret)
    // Another secret never gets this token.
    const wrong = await run(home, args, { TOKEN_CLIENT_SECRET: 'not-the-secret' })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('invalid_client')
    await expire(home)
    const renewed = await run(home, args, env)
    expect(renewed.stdout).not.toBe(first.stdout)
    expect(op.tokenRequests()).toBe(3)
  })

  test('token refreshes through HTTPS_PROXY (a real forward proxy), and NO_PROXY bypasses it', async () => {
    const op = await provider()
    const ca = closedAfterTest(await createTestCa())
    const front = closedAfterTest(await startHttpsFront(ca, op.issuer))
    const proxy = closedAfterTest(await startProxy())
    const home = await tempDir('cli-home-')
    // Explicit https endpoints (a TLS front of the provider): no discovery, so the refresh is the only request.
    const settings = [
      '--token-endpoint',
      `${front.url}/token`,
      '--device-endpoint',
      `${front.url}/device/auth`,
      '--client-id',
      op.deviceClient.clientId,
      '--scope',
      'openid offline_access',
      '--cacert',
      ca.caPath,
    ]
    await loginWithDevice(op, home, settings)
    expect(proxy.carried()).toEqual([])

    await expire(home)
    const viaProxy = await run(home, ['token', ...settings], { HTTPS_PROXY: proxy.url })
    expect(viaProxy.stderr).toBe('')
    expect(viaProxy.code).toBe(0)
    expect(await op.provider.AccessToken.find(viaProxy.stdout.trim())).toBeTruthy()
    expect(proxy.carried().map(({ kind, target }) => ({ kind, target }))).toEqual([
      { kind: 'connect', target: new URL(front.url).host },
    ])

    await expire(home)
    const bypassed = await run(home, ['token', ...settings], {
      HTTPS_PROXY: proxy.url,
      NO_PROXY: '127.0.0.1',
    })
    expect(bypassed.code).toBe(0)
    expect(bypassed.stdout).not.toBe(viaProxy.stdout)
    expect(proxy.carried()).toHaveLength(1)

    // Explicit endpoints: no metadata, so no revocation endpoint. The session is deleted all the same.
    const logout = await run(home, ['logout', ...settings])
    expect(logout.code).toBe(0)
    expect(logout.stderr).toContain('no revocation endpoint')
    expect(await sessionFiles(home)).toEqual([])
  })

  test('kubectl runs token --output exec-credential as its credential plugin: twice, the second from the cache', async () => {
    test.skip(!existsSync(kubectl), `${kubectl} is not installed: this test needs a real kubectl (client-go)`)
    const op = await provider()
    const ca = closedAfterTest(await createTestCa())
    const api = closedAfterTest(await startApiServer(ca, op))
    const home = await tempDir('cli-home-')
    const kubeHome = await tempDir('kube-home-')
    await loginWithDevice(op, home, [...deviceSettings(op), '--save-profile', 'cluster'])

    const kubeconfig = join(kubeHome, 'config')
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'test',
            cluster: {
              server: api.url,
              'certificate-authority-data': Buffer.from(ca.caPem).toString('base64'),
            },
          },
        ],
        users: [
          {
            name: 'oidc',
            user: {
              exec: {
                apiVersion: 'client.authentication.k8s.io/v1',
                command: process.execPath,
                args: [
                  join(process.cwd(), cli),
                  'token',
                  '--output',
                  'exec-credential',
                  '--profile',
                  'cluster',
                ],
                env: [{ name: 'TOKEN_CLIENT_HOME', value: home }],
                interactiveMode: 'Never',
                provideClusterInfo: false,
              },
            },
          },
        ],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'oidc' } }],
        'current-context': 'test',
      }),
    )
    const env = {
      ...cleanEnv(),
      KUBECONFIG: kubeconfig,
      HOME: kubeHome,
      KUBECACHEDIR: join(kubeHome, 'cache'),
    }
    const requests = op.tokenRequests()
    for (const round of [1, 2]) {
      const result = closedAfterTest(startProcess(kubectl, ['get', '--raw', '/version'], { env }))
      const { code, stdout, stderr } = await result.exited
      expect(stderr, `round ${round}`).toBe('')
      expect(code).toBe(0)
      expect(JSON.parse(stdout)).toMatchObject({ major: '1', minor: '32', gitVersion: 'v1.32.0' })
    }
    expect(api.authorized().filter((request) => request === 'GET /version')).toHaveLength(2)
    expect(op.tokenRequests()).toBe(requests)
    const asked = api.authorized().length

    // Signed out: kubectl gets exit 1 from the plugin and says so; the API server was not asked.
    await rm(join(home, 'sessions'), { recursive: true })
    const signedOut = spawnSync(kubectl, ['get', '--raw', '/version'], { env, encoding: 'utf8' })
    expect(signedOut.status).not.toBe(0)
    expect(signedOut.stderr).toContain('token-client login --profile cluster')
    expect(api.authorized()).toHaveLength(asked)
  })
})

/** An HTTPS front of the provider (TLS terminated here, each request forwarded as it is). */
async function startHttpsFront(ca: TestCa, target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    const upstream = http.request(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  server.on('tlsClientError', () => {})
  const port = await listenOnLoopback(server)
  return {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** A stand-in Kubernetes API server: /version for bearer tokens the provider issued, 401 for anything else. */
async function startApiServer(
  ca: TestCa,
  op: OidcFixture,
): Promise<{ url: string; authorized(): string[]; close(): Promise<void> }> {
  const authorized: string[] = []
  const server = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    void (async () => {
      const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
      const known = token === undefined ? undefined : await op.provider.AccessToken.find(token)
      if (known === undefined) {
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            reason: 'Unauthorized',
            code: 401,
          }),
        )
        return
      }
      authorized.push(`${req.method} ${req.url}`)
      if (req.url !== '/version') {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end('{}')
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' }))
    })()
  })
  server.on('tlsClientError', () => {})
  const port = await listenOnLoopback(server)
  return {
    url: `https://127.0.0.1:${port}`,
    authorized: () => [...authorized],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
