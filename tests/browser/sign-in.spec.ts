/**
 * BrowserAuthenticator in Chromium: redirect sign-in (authorization code + PKCE, RFC 6749 §4.1, RFC 7636) against
 * the real oidc-provider, through its own login and consent pages filled in by Playwright. A page on its own
 * 127.0.0.1 origin imports the built bundle (import map) and is both the app and the callback (`/callback`,
 * registered exactly); the provider allows that origin for CORS. A small resource server checks bearer tokens
 * against the provider. Covers sign-in, reload, an API call, renewal with rotation, sign-out with revocation, a
 * cancelled consent, a forged state, a replayed callback, a callback handled twice at once and a session
 * revoked elsewhere.
 */
import { createServer } from 'node:http'
import { type BrowserContext, expect, type Page, test } from '@playwright/test'
import { GrantType, getToken, revokeToken } from 'token-client'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { authError } from '../fixtures/hostile.ts'
import { listenOnLoopback } from '../fixtures/listen.ts'
import { type OidcFixture, startOidcProvider } from '../fixtures/oidc.ts'
import {
  bundleMounts,
  contentTypes,
  type StaticServer,
  startStaticServer,
} from '../fixtures/static-server.ts'

const closedAfterTest = closeAfterEach(test)

const scopes = ['openid', 'offline_access', 'api:read']
const tokenKey = 'token-client:web-client:token'
const pendingKey = 'token-client:web-client:pending'

/** What the page reports of a settled promise (an error's name, `error` code and message; never a token). */
type Outcome<T = unknown> =
  | { ok: true; value: T }
  | { ok: false; name: string; error: string | null; message: string }

interface AppWindow {
  ready?: boolean
  redirect: Promise<Outcome<{ appState?: unknown } | null> | Outcome[]>
  settle<T>(promise: Promise<T>): Promise<Outcome<T>>
  auth: {
    getAccessToken(): Promise<string>
    signOut(): Promise<{ revoked: boolean; error?: unknown }>
    fetch(url: string): Promise<Response>
  }
}

/**
 * The app: handles the redirect on every load (twice at once when sessionStorage has `test:double`, as React's
 * StrictMode does), then goes to the `returnTo` of its appState; **Sign in** leaves for the provider.
 */
function appHtml(config: Record<string, unknown>): string {
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>sign-in</title>
  <script type="importmap">
    { "imports": {
      "token-client": "/dist/index.js",
      "ky": "/node_modules/ky/distribution/index.js",
      "valibot": "/node_modules/valibot/dist/index.mjs"
    } }
  </script>
</head>
<body>
  <button id="sign-in" type="button">Sign in</button>
  <script type="module">
    import { BrowserAuthenticator } from 'token-client'
    const auth = new BrowserAuthenticator(${JSON.stringify(config)})
    const settle = (promise) =>
      promise.then(
        (value) => ({ ok: true, value: value ?? null }),
        (e) => ({ ok: false, name: e.name, error: e.error ?? null, message: e.message }),
      )
    window.auth = auth
    window.settle = settle
    window.redirect = sessionStorage.getItem('test:double')
      ? Promise.all([settle(auth.handleRedirect()), settle(auth.handleRedirect())])
      : settle(auth.handleRedirect()).then((outcome) => {
          const returnTo = outcome.ok ? outcome.value?.appState?.returnTo : undefined
          if (returnTo) history.replaceState(null, '', returnTo)
          return outcome
        })
    document.querySelector('#sign-in').onclick = () =>
      auth.signIn({ appState: { returnTo: '/home?tab=1' }, prompt: 'consent' })
    window.ready = true
  </script>
</body>
</html>`
}

interface Setup {
  site: StaticServer
  op: OidcFixture
  redirectUri: string
}

async function setup(): Promise<Setup> {
  // The page needs the provider's issuer and the provider needs the page's origin: the page is generated late.
  let config: Record<string, unknown> = {}
  const page = () => ({ type: contentTypes['.html'] ?? '', body: appHtml(config) })
  const site = closedAfterTest(
    await startStaticServer({
      mounts: bundleMounts,
      generated: { '/': page, '/callback': page, '/home': page },
    }),
  )
  const redirectUri = `${site.url}/callback`
  const op = closedAfterTest(
    await startOidcProvider({ corsOrigins: [site.url], redirectUris: [redirectUri] }),
  )
  config = { issuer: op.issuer, clientId: op.webClient.clientId, redirectUri, scopes }
  return { site, op, redirectUri }
}

async function blockFonts(context: BrowserContext): Promise<void> {
  // The provider's login and consent pages @import Google Fonts; this machine is offline.
  await context.route('https://fonts.googleapis.com/**', (route) => route.abort())
  await context.route('https://fonts.gstatic.com/**', (route) => route.abort())
}

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as AppWindow).ready === true)
}

async function redirectOutcome(page: Page): Promise<Outcome<{ appState?: unknown } | null>> {
  await ready(page)
  return (await page.evaluate(() => (window as unknown as AppWindow).redirect)) as Outcome<{
    appState?: unknown
  } | null>
}

/** Clicks Sign in and fills the provider's login page; resolves on its consent page. */
async function loginAtProvider(page: Page, op: OidcFixture, login: string): Promise<void> {
  await page.locator('#sign-in').click()
  await page.waitForURL((url) => url.origin === op.issuer)
  await page.locator('input[name="login"]').fill(login)
  await page.locator('input[name="password"]').fill('any password')
  await page.locator('button.login-submit').click()
  await expect(page.getByRole('heading', { name: 'Authorize' })).toBeVisible()
}

/** Signs in the way a person does: Sign in → login → consent → back in the app. */
async function signIn(page: Page, setupDone: Setup, login = 'ada') {
  await loginAtProvider(page, setupDone.op, login)
  await page.locator('button.login-submit').click()
  await page.waitForURL((url) => url.origin === setupDone.site.url)
  return redirectOutcome(page)
}

function session(page: Page, key: string): Promise<string | null> {
  return page.evaluate((k) => sessionStorage.getItem(k), key)
}

async function stored(page: Page): Promise<{ accessToken: string; refreshToken?: string }> {
  return JSON.parse((await session(page, tokenKey)) ?? 'null')
}

function accessToken(page: Page): Promise<Outcome<string>> {
  return page.evaluate(() => {
    const w = window as unknown as AppWindow
    return w.settle(w.auth.getAccessToken())
  })
}

/** The navigations to the callback, with their full URL (code, state, iss), as the browser made them. */
function recordCallbacks(page: Page, redirectUri: string): string[] {
  const seen: string[] = []
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (request.isNavigationRequest() && `${url.origin}${url.pathname}` === redirectUri) seen.push(url.href)
  })
  return seen
}

/** A resource server on 127.0.0.1 with CORS for `origin`: 200 with the token's subject, or 401. */
async function startResourceServer(op: OidcFixture, origin: string) {
  const cors = { 'access-control-allow-origin': origin, vary: 'origin' }
  const seen: Array<{ authorization: string | undefined; status: number }> = []
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res
        .writeHead(204, {
          ...cors,
          'access-control-allow-methods': 'GET',
          'access-control-allow-headers': 'authorization',
        })
        .end()
      return
    }
    const authorization = req.headers.authorization
    const bearer = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1]
    void (bearer === undefined ? Promise.resolve(undefined) : op.provider.AccessToken.find(bearer)).then(
      (token) => {
        const status = token === undefined || token.isExpired ? 401 : 200
        seen.push({ authorization, status })
        if (status === 401) {
          res.writeHead(401, { ...cors, 'www-authenticate': 'Bearer error="invalid_token"' }).end()
          return
        }
        res
          .writeHead(200, { ...cors, 'content-type': 'application/json' })
          .end(JSON.stringify({ sub: token?.accountId, scope: token?.scope }))
      },
    )
  })
  const port = await listenOnLoopback(server)
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      }),
  }
}

test('sign in, reload, an API call, renewal with rotation, a replayed callback, sign out', async ({
  page,
  context,
}) => {
  test.setTimeout(120_000)
  const setupDone = await setup()
  const { site, op, redirectUri } = setupDone
  await blockFonts(context)
  const api = closedAfterTest(await startResourceServer(op, site.url))
  const callbacks = recordCallbacks(page, redirectUri)
  await page.goto(`${site.url}/`)
  expect(await redirectOutcome(page)).toEqual({ ok: true, value: null })

  let token = ''
  await test.step('sign in: login and consent pages, back in the app, address bar clean', async () => {
    const outcome = await signIn(page, setupDone)
    expect(outcome).toEqual({ ok: true, value: { appState: { returnTo: '/home?tab=1' } } })
    expect(callbacks).toHaveLength(1)
    const callback = new URL(callbacks[0] ?? '')
    expect([...callback.searchParams.keys()].sort()).toEqual(['code', 'iss', 'state'])
    // The app cleaned the callback out of the address bar, then went where appState said.
    expect(page.url()).toBe(`${site.url}/home?tab=1`)
    expect(await page.evaluate(() => history.length)).toBeGreaterThan(1)
    expect(op.tokenRequests(), 'one code exchange').toBe(1)
    const got = await accessToken(page)
    expect(got.ok).toBe(true)
    token = (got as { value: string }).value
    const known = await op.provider.AccessToken.find(token)
    expect(known?.accountId).toBe('ada')
    expect(known?.scope).toBe(scopes.join(' '))
    expect((await stored(page)).refreshToken).toEqual(expect.any(String))
    expect(await session(page, pendingKey), 'the verifier is gone').toBeNull()
  })

  await test.step('reload: no redirect, no token request, still signed in', async () => {
    await page.reload()
    expect(await redirectOutcome(page)).toEqual({ ok: true, value: null })
    expect(page.url()).toBe(`${site.url}/home?tab=1`)
    expect(await accessToken(page)).toEqual({ ok: true, value: token })
    expect(op.tokenRequests()).toBe(1)
    expect(callbacks).toHaveLength(1)
  })

  await test.step('authenticator.fetch: the resource server accepts the token', async () => {
    const answer = await page.evaluate(async (url) => {
      const res = await (window as unknown as AppWindow).auth.fetch(url)
      return { status: res.status, body: await res.json() }
    }, `${api.url}/items`)
    expect(answer).toEqual({ status: 200, body: { sub: 'ada', scope: scopes.join(' ') } })
    expect(api.seen).toEqual([{ authorization: `Bearer ${token}`, status: 200 }])
  })

  await test.step('a replayed callback: no second token request, still signed in', async () => {
    const callback = callbacks[0] ?? ''
    await page.goto(callback)
    expect(await redirectOutcome(page)).toEqual({ ok: true, value: null })
    expect(new URL(page.url()).search, 'the replayed callback is cleaned too').toBe('')
    expect(op.tokenRequests()).toBe(1)
    expect(await accessToken(page)).toEqual({ ok: true, value: token })
    // And once more through history: back to the replayed entry, then forward.
    await page.goBack()
    await page.goForward()
    expect(await redirectOutcome(page)).toEqual({ ok: true, value: null })
    expect(op.tokenRequests()).toBe(1)
    expect(await accessToken(page)).toEqual({ ok: true, value: token })
    // Even while another sign-in is pending (Sign in clicked, then back to the old callback): not a forgery,
    // not sent, and the new sign-in stays pending.
    await page.locator('#sign-in').click()
    await page.waitForURL((url) => url.origin === op.issuer)
    await page.goto(callback)
    expect(await redirectOutcome(page)).toEqual({ ok: true, value: null })
    expect(op.tokenRequests()).toBe(1)
    expect(await accessToken(page)).toEqual({ ok: true, value: token })
    expect(await session(page, pendingKey)).not.toBeNull()
    // The same parameters on another page of the app are no callback at all.
    await page.goto(callback.replace('/callback?', '/home?'))
    expect(await redirectOutcome(page)).toEqual({ ok: true, value: null })
    expect(new URL(page.url()).searchParams.has('code'), 'not the callback: left alone').toBe(true)
    expect(op.tokenRequests()).toBe(1)
  })

  let refreshToken = ''
  await test.step('renewal after expiry: one refresh, refresh token rotated, still signed in', async () => {
    const before = await stored(page)
    await page.evaluate((key) => {
      const entry = JSON.parse(sessionStorage.getItem(key) ?? '{}')
      entry.expiresAt = entry.obtainedAt
      sessionStorage.setItem(key, JSON.stringify(entry))
    }, tokenKey)
    // A fresh page load, so that the token in the authenticator's memory is the expired stored one.
    await page.reload()
    await redirectOutcome(page)
    const got = await accessToken(page)
    expect(got.ok).toBe(true)
    const fresh = (got as { value: string }).value
    expect(fresh).not.toBe(token)
    expect(op.tokenRequests(), 'one refresh').toBe(2)
    const after = await stored(page)
    expect(after.accessToken).toBe(fresh)
    expect(after.refreshToken).toEqual(expect.any(String))
    expect(after.refreshToken, 'rotated').not.toBe(before.refreshToken)
    expect((await op.provider.AccessToken.find(fresh))?.accountId).toBe('ada')
    expect(await accessToken(page)).toEqual({ ok: true, value: fresh })
    expect(op.tokenRequests()).toBe(2)
    token = fresh
    refreshToken = after.refreshToken ?? ''
  })

  await test.step('sign out: revoked at the provider, store cleared, login_required', async () => {
    const result = await page.evaluate(() => (window as unknown as AppWindow).auth.signOut())
    expect(result).toEqual({ revoked: true })
    expect(await session(page, tokenKey)).toBeNull()
    expect(await op.provider.AccessToken.find(token)).toBeUndefined()
    const err = await authError(
      getToken(op.tokenEndpoint, {
        grantType: GrantType.REFRESH_TOKEN,
        refreshToken,
        clientId: op.webClient.clientId,
      }),
    )
    expect(err.error).toBe('invalid_grant')
    const requests = op.tokenRequests()
    expect(await accessToken(page)).toEqual({
      ok: false,
      name: 'AuthenticationError',
      error: 'login_required',
      message: expect.stringContaining('signIn()'),
    })
    await page.reload()
    expect(await accessToken(page)).toMatchObject({ ok: false, error: 'login_required' })
    expect(op.tokenRequests(), 'nothing left to send').toBe(requests)
  })
})

test('cancel at consent: error=access_denied is an AuthenticationError, nothing stored', async ({
  page,
  context,
}) => {
  const setupDone = await setup()
  const { site, op } = setupDone
  await blockFonts(context)
  await page.goto(`${site.url}/`)
  await loginAtProvider(page, op, 'ada')
  await page.getByRole('link', { name: '[ Cancel ]' }).click()
  await page.waitForURL((url) => url.origin === site.url)
  const outcome = await redirectOutcome(page)
  expect(outcome).toMatchObject({ ok: false, name: 'AuthenticationError', error: 'access_denied' })
  expect(page.url()).toBe(`${site.url}/callback`)
  expect(await session(page, tokenKey)).toBeNull()
  expect(await session(page, pendingKey)).toBeNull()
  expect(op.tokenRequests()).toBe(0)
  expect(await accessToken(page)).toMatchObject({ ok: false, error: 'login_required' })
})

test('a forged state (a real code for another person) is refused: state_mismatch, nothing sent', async ({
  page,
  context,
  browser,
}) => {
  test.setTimeout(120_000)
  const setupDone = await setup()
  const { site, op, redirectUri } = setupDone
  await blockFonts(context)

  // The attacker signs in in their own browser and keeps the callback (their code, their state) for later: once
  // at the provider, the app's bundle is blocked there, so the callback page cannot redeem the code.
  const attackerContext = closedAfterTest(await browser.newContext())
  await blockFonts(attackerContext)
  const attacker = await attackerContext.newPage()
  const attackerCallbacks = recordCallbacks(attacker, redirectUri)
  await attacker.goto(`${site.url}/`)
  await ready(attacker)
  await loginAtProvider(attacker, op, 'mallory')
  await attackerContext.route(`${site.url}/dist/**`, (route) => route.abort())
  await attacker.locator('button.login-submit').click()
  await attacker.waitForURL((url) => url.origin === site.url)
  await attacker.close()
  expect(attackerCallbacks).toHaveLength(1)
  const forged = attackerCallbacks[0] ?? ''
  expect(new URL(forged).searchParams.get('code')).toEqual(expect.any(String))

  await test.step('no sign-in pending in the victim tab', async () => {
    await page.goto(forged)
    expect(await redirectOutcome(page)).toMatchObject({
      ok: false,
      name: 'AuthenticationError',
      error: 'state_mismatch',
    })
    expect(page.url()).toBe(`${site.url}/callback`)
    expect(op.tokenRequests()).toBe(0)
    expect(await session(page, tokenKey)).toBeNull()
  })

  await test.step('while the victim signs in: refused, and the real sign-in still completes', async () => {
    await page.goto(`${site.url}/`)
    await ready(page)
    await page.locator('#sign-in').click()
    await page.waitForURL((url) => url.origin === op.issuer)
    await page.goto(forged)
    const outcome = await redirectOutcome(page)
    expect(outcome).toMatchObject({ ok: false, error: 'state_mismatch' })
    expect((outcome as { message: string }).message).not.toContain(new URL(forged).searchParams.get('code'))
    expect(op.tokenRequests()).toBe(0)
    expect(await session(page, tokenKey)).toBeNull()
    expect(await session(page, pendingKey), 'the real pending sign-in is kept').not.toBeNull()

    await page.goBack()
    await page.waitForURL((url) => url.origin === op.issuer)
    await page.locator('input[name="login"]').fill('ada')
    await page.locator('input[name="password"]').fill('any password')
    await page.locator('button.login-submit').click()
    await page.locator('button.login-submit').click()
    await page.waitForURL((url) => url.origin === site.url)
    expect(await redirectOutcome(page)).toEqual({
      ok: true,
      value: { appState: { returnTo: '/home?tab=1' } },
    })
    const got = await accessToken(page)
    expect((await op.provider.AccessToken.find((got as { value: string }).value))?.accountId).toBe('ada')
    expect(op.tokenRequests()).toBe(1)
  })
})

test('the callback handled twice at once (StrictMode): one token request, both get the appState', async ({
  page,
  context,
}) => {
  const setupDone = await setup()
  const { site, op } = setupDone
  await blockFonts(context)
  await page.goto(`${site.url}/`)
  await ready(page)
  await page.evaluate(() => sessionStorage.setItem('test:double', '1'))
  await loginAtProvider(page, op, 'ada')
  await page.locator('button.login-submit').click()
  await page.waitForURL((url) => url.origin === site.url)
  await ready(page)
  const outcomes = await page.evaluate(() => (window as unknown as AppWindow).redirect)
  const done = { ok: true, value: { appState: { returnTo: '/home?tab=1' } } }
  expect(outcomes).toEqual([done, done])
  expect(op.tokenRequests(), 'the code is sent once').toBe(1)
  const got = await accessToken(page)
  expect(got.ok).toBe(true)
  expect(
    await op.provider.AccessToken.find((got as { value: string }).value),
    'the token is not revoked by a code reuse',
  ).toBeTruthy()
})

test('a session revoked elsewhere: one refused refresh, login_required, the dead session removed', async ({
  page,
  context,
}) => {
  const setupDone = await setup()
  const { site, op } = setupDone
  await blockFonts(context)
  await page.goto(`${site.url}/`)
  await ready(page)
  expect((await signIn(page, setupDone)).ok).toBe(true)
  const { refreshToken } = await stored(page)
  // Revoked by another client of the person's (say, "sign out everywhere"): the grant is gone.
  await revokeToken(op.revocationEndpoint, refreshToken ?? '', {
    clientId: op.webClient.clientId,
    tokenTypeHint: 'refresh_token',
  })
  await page.evaluate((key) => {
    const entry = JSON.parse(sessionStorage.getItem(key) ?? '{}')
    entry.expiresAt = entry.obtainedAt
    sessionStorage.setItem(key, JSON.stringify(entry))
  }, tokenKey)
  await page.reload()
  await redirectOutcome(page)
  const before = op.tokenRequests()
  expect(await accessToken(page)).toMatchObject({ ok: false, error: 'login_required' })
  expect(op.tokenRequests(), 'one refresh, refused').toBe(before + 1)
  expect(await session(page, tokenKey), 'the dead session is removed').toBeNull()
  expect(await accessToken(page)).toMatchObject({ ok: false, error: 'login_required' })
  expect(op.tokenRequests(), 'the dead refresh token is not sent again').toBe(before + 1)
})
