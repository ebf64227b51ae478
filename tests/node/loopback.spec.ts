/**
 * LoopbackAuthenticator (RFC 8252 loopback redirect + PKCE) against the real oidc-provider: a real Chromium
 * walking the provider's own login and consent pages, the person's part done with fetch
 * (authorizeInteractively), a fixed registered redirect URI, timeout, abort, stray requests to the loopback
 * server, a refusal, two processes sharing one fileStore, and the same sign-in run by Deno.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium, expect, test } from '@playwright/test'
import { AuthenticationError, GrantType, getToken } from 'token-client'
import { fileStore, LoopbackAuthenticator } from 'token-client/node'
import { type StartedProcess, startProcess } from '../fixtures/child-process.ts'
import { chromiumLaunchOptions } from '../fixtures/chromium.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { listenOnLoopback } from '../fixtures/listen.ts'
import { authorizeInteractively, type OidcFixture, startOidcProvider } from '../fixtures/oidc.ts'
import { json, startScriptedServer } from '../fixtures/scripted-server.ts'

const closedAfterTest = closeAfterEach(test)
const root = new URL('../..', import.meta.url).pathname
const childScript = 'tests/fixtures/loopback-child.ts'
const deno = join(root, 'node_modules', '.bin', 'deno')
const scopes = ['openid', 'offline_access', 'api:read']

async function provider(opts: Parameters<typeof startOidcProvider>[0] = {}): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider(opts))
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'token-client-loopback-'))
  closedAfterTest({ close: () => rm(dir, { recursive: true, force: true }) })
  return dir
}

async function accepted(op: OidcFixture, token: string): Promise<boolean> {
  const found = await op.provider.AccessToken.find(token)
  return found !== undefined && !found.isExpired
}

/** Whether a TCP connection to host:port is refused (nothing listens any more). */
function refused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host)
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    // ECONNREFUSED, or no such address here (no IPv6): nothing to connect to either way.
    socket.once('error', () => resolve(true))
  })
}

function redirectOf(url: URL): URL {
  return new URL(url.searchParams.get('redirect_uri') ?? '')
}

async function authError(promise: Promise<unknown>): Promise<AuthenticationError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AuthenticationError)
  return err as AuthenticationError
}

interface Page {
  status: number
  text: string
}

/**
 * The person's part done in the background, as when the system browser opens: `onAuthorizationUrl` returns at
 * once, `act` follows the URL and brings the callback to the loopback server. `page` is what the browser got.
 */
function person(act: (url: URL) => Promise<Response>): {
  onAuthorizationUrl: (url: URL) => void
  urls: URL[]
  page: () => Promise<Page>
} {
  const urls: URL[] = []
  let done: Promise<Page> | undefined
  return {
    urls,
    onAuthorizationUrl: (url) => {
      urls.push(url)
      done = act(url).then(async (res) => ({ status: res.status, text: await res.text() }))
      done.catch(() => {})
    },
    page: () => done ?? Promise.reject(new Error('onAuthorizationUrl was not called')),
  }
}

/** authorizeInteractively, then the browser follows the last redirect to the loopback server. */
const signsIn =
  (opts: Parameters<typeof authorizeInteractively>[1] = {}) =>
  async (url: URL): Promise<Response> =>
    fetch(await authorizeInteractively(url, opts))

function launchChromium(): Promise<Browser> {
  return chromium.launch(chromiumLaunchOptions)
}

test('Chromium on the provider pages: signed in, the token accepted, the server closed; renewed by refresh after expiry; signOut revokes', async () => {
  test.setTimeout(90_000)
  // 2 s tokens: usable for 1 s (skew capped at half the lifetime), then renewed with the refresh token.
  const op = await provider({ accessTokenTtl: 2 })
  const browser = await launchChromium()
  closedAfterTest({ close: () => browser.close() })
  const page = await browser.newPage()
  await page.route('https://fonts.googleapis.com/**', (route) => route.abort())
  const storePath = join(await tempDir(), 'token.json')

  const urls: URL[] = []
  let walked: Promise<void> | undefined
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes,
    prompt: 'consent',
    store: fileStore(storePath),
    onAuthorizationUrl: (url) => {
      urls.push(url)
      // The system browser opens; the person signs in on the provider's own pages.
      walked = (async () => {
        await page.goto(url.href)
        await expect(page.locator('h1')).toHaveText('Sign-in')
        await page.fill('input[name="login"]', 'person-7')
        await page.fill('input[name="password"]', 'any password')
        await page.click('button.login-submit')
        await expect(page.locator('h1')).toHaveText('Authorize')
        await page.click('button.login-submit')
        await expect(page.locator('h1')).toHaveText('Signed in')
      })()
      walked.catch(() => {})
    },
  })
  const token = await auth.getAccessToken()
  await walked
  expect(urls).toHaveLength(1)
  const url = urls[0] as URL
  expect(url.searchParams.get('prompt')).toBe('consent')
  expect(url.searchParams.get('code_challenge_method')).toBe('S256')
  const redirect = redirectOf(url)
  expect(redirect.hostname).toBe('127.0.0.1')
  expect(Number(redirect.port)).toBeGreaterThan(0)
  expect(redirect.pathname).toBe('/callback')
  expect(page.url()).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${redirect.port}/callback\\?`))
  await expect(page.locator('body')).toContainText('You are signed in')

  const found = await op.provider.AccessToken.find(token)
  expect(found?.accountId).toBe('person-7')
  expect(found?.clientId).toBe(op.cliClient.clientId)
  expect(await refused(Number(redirect.port)), 'the loopback server is closed').toBe(true)
  const first = JSON.parse(await readFile(storePath, 'utf8')) as { refreshToken?: string }
  expect(first.refreshToken, 'offline_access with prompt=consent gives a refresh token').toBeTruthy()

  // After expiry: one refresh request, no new sign-in, a rotated refresh token.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const before = op.tokenRequests()
  const renewed = await auth.getAccessToken()
  expect(renewed).not.toBe(token)
  expect(op.tokenRequests() - before).toBe(1)
  expect(urls).toHaveLength(1)
  expect(await accepted(op, renewed)).toBe(true)
  const second = JSON.parse(await readFile(storePath, 'utf8')) as { refreshToken: string }
  expect(second.refreshToken).not.toBe(first.refreshToken)

  const result = await auth.signOut()
  expect(result).toEqual({ revoked: true })
  expect(await accepted(op, renewed)).toBe(false)
  const err = await authError(
    getToken(op.tokenEndpoint, {
      grantType: GrantType.REFRESH_TOKEN,
      refreshToken: second.refreshToken,
      clientId: op.cliClient.clientId,
    }),
  )
  expect(err.error).toBe('invalid_grant')
  await expect(readFile(storePath, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
})

/** A port that was free a moment ago (for a fixed redirect URI). */
async function freePort(): Promise<number> {
  const server = createServer()
  const port = await listenOnLoopback(server)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

for (const fixed of [false, true]) {
  test(`${fixed ? 'a fixed registered redirect URI http://localhost:<port>/callback' : 'the default redirect URI, port 0'}: signed in with the person's part done by fetch`, async () => {
    const port = fixed ? await freePort() : 0
    const redirectUri = fixed ? `http://localhost:${port}/callback` : undefined
    const op = await provider(redirectUri ? { cliRedirectUris: [redirectUri] } : {})
    const browser = person(signsIn())
    const auth = new LoopbackAuthenticator({
      issuer: op.issuer,
      clientId: op.cliClient.clientId,
      scopes,
      prompt: 'consent',
      ...(redirectUri ? { redirectUri } : {}),
      onAuthorizationUrl: browser.onAuthorizationUrl,
    })
    const token = await auth.getAccessToken()
    const shown = await browser.page()
    expect(shown.status).toBe(200)
    expect(shown.text).toContain('<h1>Signed in</h1>')
    expect(await accepted(op, token)).toBe(true)
    const redirect = redirectOf(browser.urls[0] as URL)
    if (fixed) expect(redirect.href).toBe(redirectUri)
    else {
      expect(redirect.host).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(redirect.port).not.toBe('0')
    }
    // Whichever address 'localhost' was bound on, nothing listens there any more.
    expect(await refused(Number(redirect.port), '127.0.0.1')).toBe(true)
    expect(await refused(Number(redirect.port), '::1')).toBe(true)
  })
}

test('a fixed redirect port already in use: AuthenticationError saying so, nothing shown', async () => {
  const op = await provider()
  const busy: Server = createServer()
  const port = await listenOnLoopback(busy)
  closedAfterTest({ close: () => new Promise<void>((resolve) => busy.close(() => resolve())) })
  const urls: URL[] = []
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes,
    redirectUri: `http://127.0.0.1:${port}/callback`,
    onAuthorizationUrl: (url) => {
      urls.push(url)
    },
  })
  const err = await authError(auth.getAccessToken())
  expect(err.message).toContain('the port is in use')
  expect(urls).toHaveLength(0)
})

test('callbackTimeout 500 and nobody comes: callback_timeout after about 500 ms, the server closed', async () => {
  const op = await provider()
  let shownAt = 0
  let port = 0
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes,
    callbackTimeout: 500,
    onAuthorizationUrl: (url) => {
      port = Number(redirectOf(url).port)
      shownAt = performance.now()
    },
  })
  const err = await authError(auth.getAccessToken())
  const elapsed = performance.now() - shownAt
  expect(err.error).toBe('callback_timeout')
  expect(err.message).toContain('500 ms')
  expect(elapsed).toBeGreaterThanOrEqual(480)
  expect(elapsed).toBeLessThan(1500)
  expect(await refused(port)).toBe(true)
  // The next call starts a new sign-in (the failure is not remembered).
  const again = await authError(auth.getAccessToken())
  expect(again.error).toBe('callback_timeout')
})

test("the constructor's signal aborted while waiting: rejects with its reason at once, the server closed", async () => {
  const op = await provider()
  const controller = new AbortController()
  const reason = new Error('the user pressed Ctrl-C')
  let port = 0
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes,
    signal: controller.signal,
    onAuthorizationUrl: (url) => {
      port = Number(redirectOf(url).port)
    },
  })
  const pending = auth.getAccessToken().then(
    () => undefined,
    (e: unknown) => e,
  )
  await expect.poll(() => port).toBeGreaterThan(0)
  expect(await refused(port), 'listening while waiting').toBe(false)
  const abortedAt = performance.now()
  controller.abort(reason)
  expect(await pending).toBe(reason)
  expect(performance.now() - abortedAt).toBeLessThan(200)
  expect(await refused(port)).toBe(true)
})

test('onAuthorizationUrl throwing: that error, the server closed, nothing left to fire later', async () => {
  const op = await provider()
  let port = 0
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes,
    callbackTimeout: 300,
    onAuthorizationUrl: async (url) => {
      port = Number(redirectOf(url).port)
      throw new Error('no browser here')
    },
  })
  const unhandled: unknown[] = []
  const onUnhandled = (err: unknown): void => {
    unhandled.push(err)
  }
  process.on('unhandledRejection', onUnhandled)
  try {
    await expect(auth.getAccessToken()).rejects.toThrow('no browser here')
    expect(await refused(port)).toBe(true)
    // Longer than callbackTimeout: the timer of the abandoned wait must not reject into the void.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(unhandled).toEqual([])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})

test('wrong state, a favicon, another path, another method, a request target that is no URL: answered and ignored; the real callback still completes', async () => {
  const op = await provider()
  const answers: Record<string, number> = {}
  const browser = person(async (url) => {
    const redirect = redirectOf(url)
    const base = redirect.origin
    const status = async (name: string, target: string, init?: RequestInit): Promise<void> => {
      const res = await fetch(`${base}${target}`, init)
      answers[name] = res.status
      const text = await res.text()
      // Nothing from the request is echoed back.
      expect(text).not.toContain('stolen')
    }
    await status('favicon', '/favicon.ico')
    await status('other path', '/other?code=stolen&state=stolen')
    await status('wrong state', '/callback?code=stolen&state=stolen')
    await status('wrong state error', '/callback?error=access_denied&state=stolen')
    await status('no state', '/callback?code=stolen')
    await status('POST', `/callback?state=${url.searchParams.get('state')}&code=stolen`, {
      method: 'POST',
    })
    answers['no URL'] = await new Promise<number>((resolve, reject) => {
      const socket = connect(Number(redirect.port), '127.0.0.1', () =>
        socket.write('GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'),
      )
      socket.once('data', (chunk) => {
        resolve(Number(String(chunk).split(' ')[1]))
        socket.destroy()
      })
      socket.once('error', reject)
    })
    return fetch(await authorizeInteractively(url))
  })
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes,
    onAuthorizationUrl: browser.onAuthorizationUrl,
  })
  const token = await auth.getAccessToken()
  expect(answers).toEqual({
    favicon: 404,
    'other path': 404,
    'wrong state': 400,
    'wrong state error': 400,
    'no state': 400,
    POST: 404,
    'no URL': 400,
  })
  const shown = await browser.page()
  expect(shown.status).toBe(200)
  expect(shown.text).toContain('Signed in')
  expect(await accepted(op, token)).toBe(true)
})

test('an access_denied callback: AuthenticationError access_denied, the browser gets the error page', async () => {
  const op = await provider()
  const browser = person(signsIn({ deny: true }))
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes,
    onAuthorizationUrl: browser.onAuthorizationUrl,
  })
  const err = await authError(auth.getAccessToken())
  expect(err.error).toBe('access_denied')
  const shown = await browser.page()
  expect(shown.status).toBe(400)
  expect(shown.text).toContain('<h1>Sign-in failed</h1>')
  expect(shown.text).toContain('access_denied')
  expect(await refused(Number(redirectOf(browser.urls[0] as URL).port))).toBe(true)
  expect(op.tokenRequests()).toBe(0)
})

test('a code the token endpoint refuses: the browser is told the sign-in failed, not "signed in"', async () => {
  const op = await provider()
  // A token endpoint that refuses every code (as for a code already used, or a redirect_uri mismatch).
  const refusing = closedAfterTest(
    await startScriptedServer({
      '/token': (_req, res) =>
        json(res, 400, { error: 'invalid_grant', error_description: 'code already used' }),
    }),
  )
  const browser = person(signsIn())
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    tokenEndpoint: `${refusing.url}/token`,
    clientId: op.cliClient.clientId,
    scopes,
    onAuthorizationUrl: browser.onAuthorizationUrl,
  })
  const err = await authError(auth.getAccessToken())
  expect(err.error).toBe('invalid_grant')
  expect(refusing.requests('/token')).toHaveLength(1)
  const shown = await browser.page()
  expect(shown.status).toBe(400)
  expect(shown.text).toContain('<h1>Sign-in failed</h1>')
  expect(shown.text).toContain('invalid_grant')
  expect(shown.text).not.toContain('Signed in')
})

// ---------------------------------------------------------------------------------------------------------
// Other processes: Node children sharing a fileStore, and Deno.

interface ChildEvent {
  event: string
  url?: string
  token?: string
  urls?: number
  error?: string
  message?: string
}

const denoArgs = [
  'run',
  '--no-prompt',
  '--no-remote',
  '--node-modules-dir=manual',
  '--no-lock',
  '--allow-net=127.0.0.1',
  '--allow-read',
  '--allow-write',
  '--allow-env',
  '--allow-sys=hostname',
]

/** Deno's environment: no proxies (the servers are on 127.0.0.1), a private DENO_DIR, nothing downloaded. */
async function denoEnv(): Promise<NodeJS.ProcessEnv> {
  const denoDir = await tempDir()
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^((https?|all|no)_proxy|force_color)$/i.test(name)),
  )
  return { ...inherited, DENO_DIR: denoDir, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }
}

function spawnChild(
  config: Record<string, unknown>,
  runtime: 'node' | 'deno' = 'node',
  env?: NodeJS.ProcessEnv,
): StartedProcess {
  const json = JSON.stringify(config)
  const [command, args] =
    runtime === 'node' ? [process.execPath, [childScript, json]] : [deno, [...denoArgs, childScript, json]]
  return closedAfterTest(startProcess(command, args, { cwd: root, ...(env ? { env } : {}) }))
}

async function childUrl(child: StartedProcess): Promise<URL> {
  const [line] = await child.waitFor('stdout', /^\{"event":"url".*$/m)
  return new URL((JSON.parse(line) as ChildEvent).url ?? '')
}

async function finalEvent(child: StartedProcess): Promise<ChildEvent> {
  const [line] = await child.waitFor('stdout', /^\{"event":"(done|error)".*$/m)
  return JSON.parse(line) as ChildEvent
}

test('two processes sharing a fileStore: one signs in in the browser, the other waits on the lock and uses its token', async () => {
  test.setTimeout(60_000)
  const op = await provider()
  const storePath = join(await tempDir(), 'token.json')
  const config = { issuer: op.issuer, clientId: op.cliClient.clientId, scopes, prompt: 'consent', storePath }
  const first = spawnChild(config)
  const url = await childUrl(first)
  // Started while the first one holds the lock, waiting for the person.
  const second = spawnChild(config)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  expect(second.child.exitCode).toBeNull()
  const page = await fetch(await authorizeInteractively(url))
  expect(page.status).toBe(200)
  const [a, b] = await Promise.all([finalEvent(first), finalEvent(second)])
  expect(a, JSON.stringify(a)).toMatchObject({ event: 'done', urls: 1 })
  expect(b, JSON.stringify(b)).toMatchObject({ event: 'done', urls: 0 })
  expect(b.token).toBe(a.token)
  expect(op.tokenRequests(), 'one code exchange in all').toBe(1)
  expect(await accepted(op, a.token ?? '')).toBe(true)
  expect(await refused(Number(redirectOf(url).port))).toBe(true)
})

test('Deno: LoopbackAuthenticator (node:http through Deno) signs in, the person part done by this test', async () => {
  test.setTimeout(60_000)
  const op = await provider()
  const child = spawnChild(
    { issuer: op.issuer, clientId: op.cliClient.clientId, scopes, prompt: 'consent' },
    'deno',
    await denoEnv(),
  )
  const url = await childUrl(child)
  const page = await fetch(await authorizeInteractively(url))
  expect(page.status).toBe(200)
  expect(await page.text()).toContain('Signed in')
  const done = await finalEvent(child)
  expect(done, JSON.stringify(done)).toMatchObject({ event: 'done', urls: 1 })
  expect(await accepted(op, done.token ?? '')).toBe(true)
  const { code } = await child.exited
  expect(code).toBe(0)
})

test('Deno: callbackTimeout ends the wait with callback_timeout', async () => {
  test.setTimeout(60_000)
  const op = await provider()
  const child = spawnChild(
    { issuer: op.issuer, clientId: op.cliClient.clientId, scopes, callbackTimeout: 500 },
    'deno',
    await denoEnv(),
  )
  const url = await childUrl(child)
  const done = await finalEvent(child)
  expect(done, JSON.stringify(done)).toMatchObject({ event: 'error', error: 'callback_timeout' })
  expect(await refused(Number(redirectOf(url).port))).toBe(true)
})
