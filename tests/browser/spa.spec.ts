/**
 * The SPA example (examples/spa) in Debian's Chromium: the built dist/index.js loaded as an ES module from
 * the SPA's own origin, against the oidc-provider fixture (CORS): the redirect sign-in (authorization code +
 * PKCE through the provider's own login and consent pages, reload, sign-out with revocation, a cancelled
 * consent), and the device flow approved the way a person would on the provider's pages in a second tab.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { expect, type Page, test } from '@playwright/test'
import { type SpaServer, startSpaServer } from '../../examples/spa/serve.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'

const closedAfterTest = closeAfterEach(test)

const sha256 = (bytes: Buffer | Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Opens the SPA and resolves once app.js has run; collects what the page loaded from /dist/. */
async function openSpa(page: Page, server: SpaServer) {
  const bundles = new Map<string, Promise<Buffer>>()
  page.on('response', (response) => {
    const url = new URL(response.url())
    if (url.origin === server.url && url.pathname.startsWith('/dist/'))
      bundles.set(url.pathname, response.body())
  })
  const consoleErrors: string[] = []
  page.on('console', (message) => {
    // Chromium logs every 4xx, and authorization_pending is a 400 (RFC 8628 §3.5): expected while polling.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      consoleErrors.push(message.text())
    }
  })
  page.on('pageerror', (error) => consoleErrors.push(error.message))
  await page.goto(`${server.url}/`)
  await expect(page.locator('html')).toHaveAttribute('data-ready', 'true')
  return { bundles, consoleErrors }
}

test('device-flow sign-in in the SPA, approved on the provider pages in a second tab', async ({
  page,
  context,
}) => {
  test.setTimeout(120_000)
  const spa = closedAfterTest(await startSpaServer({ provider: { deviceInterval: 1 } }))
  // The provider's login and consent pages @import Google Fonts; this machine is offline.
  await context.route('https://fonts.googleapis.com/**', (route) => route.abort())
  await context.route('https://fonts.gstatic.com/**', (route) => route.abort())
  // The tokens the provider issues (opaque: the value is the model's jti), to check the page never shows one.
  const issued: string[] = []
  spa.op.provider.on('access_token.saved', (token) => issued.push((token as { jti: string }).jti))

  const { bundles, consoleErrors } = await openSpa(page, spa)

  await test.step('the page loaded the very dist/index.js that Node imports', async () => {
    const served = await bundles.get('/dist/index.js')
    expect(served, 'the page fetched /dist/index.js').toBeDefined()
    const onDisk = await readFile(new URL('../../dist/index.js', import.meta.url))
    expect(sha256(served as Buffer)).toBe(sha256(onDisk))
  })

  await page.getByRole('button', { name: 'Sign in on another device' }).click()
  await expect(page.locator('#user-code')).toHaveText(/^[A-Z]{4}-[A-Z]{4}$/)
  const userCode = (await page.locator('#user-code').textContent()) ?? ''
  await expect(page.locator('#verification-uri')).toHaveText(`${spa.op.issuer}/device`)
  const verificationUri = (await page.locator('#verification-uri').textContent()) ?? ''
  const link = page.getByRole('link', { name: 'Open the sign-in page' })
  await expect(link).toHaveAttribute('href', new RegExp(`^${spa.op.issuer}/device\\?user_code=`))
  await expect(page.locator('#poll-status')).toContainText('checked')

  await test.step('a person approves in a second tab: code, confirm, login, consent', async () => {
    const approval = await context.newPage()
    await approval.goto(verificationUri)
    await approval.locator('input[name="user_code"]').fill(userCode)
    await approval.locator('button[type="submit"][form="op.deviceInputForm"]').click()
    await expect(approval.getByText(userCode)).toBeVisible()
    await approval.locator('button[type="submit"][form="op.deviceConfirmForm"]:not([name])').click()
    await approval.locator('input[name="login"]').fill('ada')
    await approval.locator('input[name="password"]').fill('any password')
    await approval.locator('button.login-submit').click()
    await expect(approval.getByRole('heading', { name: 'Authorize' })).toBeVisible()
    await approval.locator('button.login-submit').click()
    await expect(approval.getByRole('heading', { name: 'Sign-in Success' })).toBeVisible()
    await approval.close()
  })

  await test.step('the SPA shows the signed-in state, scope and expiry, never the whole token', async () => {
    await expect(page.locator('#signed-in')).toBeVisible({ timeout: 30_000 })
    await expect(page.locator('#status')).toHaveText('Signed in')
    await expect(page.locator('#method')).toHaveText('on another device (device flow)')
    await expect(page.locator('#scope')).toHaveText('openid api:read')
    await expect(page.locator('#expiry')).toContainText('in 60 min')
    expect(issued, 'one access token was issued').toHaveLength(1)
    const token = issued[0] as string
    await expect(page.locator('#token-preview')).toHaveText(
      `${token.slice(0, 6)}… (${token.length} characters)`,
    )
    const text = (await page.locator('body').textContent()) + (await page.content())
    expect(text).not.toContain(token)
    expect(text).not.toContain(token.slice(0, 12))
    await page.screenshot({ path: test.info().outputPath('signed-in.png'), fullPage: true })
  })

  await test.step('sign out revokes the token', async () => {
    const token = issued[0] as string
    await page.getByRole('button', { name: 'Sign out' }).click()
    await expect(page.locator('#notice')).toHaveText('Signed out: the provider revoked the tokens.')
    await expect(page.locator('#signed-out')).toBeVisible()
    expect(await spa.op.provider.AccessToken.find(token)).toBeUndefined()
  })

  expect(consoleErrors).toEqual([])
  expect(spa.op.tokenRequests()).toBeGreaterThanOrEqual(2)
})

test('redirect sign-in in the SPA: login and consent pages, back signed in, reload, sign out, cancel', async ({
  page,
  context,
}) => {
  test.setTimeout(120_000)
  const spa = closedAfterTest(await startSpaServer())
  await context.route('https://fonts.googleapis.com/**', (route) => route.abort())
  await context.route('https://fonts.gstatic.com/**', (route) => route.abort())
  const issued: string[] = []
  spa.op.provider.on('access_token.saved', (token) => issued.push((token as { jti: string }).jti))
  const callbacks: string[] = []
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (request.isNavigationRequest() && url.origin === spa.url && url.searchParams.has('state'))
      callbacks.push(url.href)
  })

  const { consoleErrors } = await openSpa(page, spa)
  await expect(page.locator('#signed-out')).toBeVisible()

  await test.step('Sign in: the provider login and consent pages, then back in the app', async () => {
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.waitForURL((url) => url.origin === spa.op.issuer)
    await page.locator('input[name="login"]').fill('ada')
    await page.locator('input[name="password"]').fill('any password')
    await page.locator('button.login-submit').click()
    await expect(page.getByRole('heading', { name: 'Authorize' })).toBeVisible()
    await page.locator('button.login-submit').click()
    await page.waitForURL((url) => url.origin === spa.url)
    await expect(page.locator('html')).toHaveAttribute('data-ready', 'true')
    await expect(page.locator('#signed-in')).toBeVisible()
    await expect(page.locator('#method')).toHaveText('with the browser (authorization code + PKCE)')
    await expect(page.locator('#user')).toHaveText('ada')
    await expect(page.locator('#scope')).toHaveText('openid offline_access api:read')
    await expect(page.locator('#expiry')).toContainText('in 60 min')
    expect(callbacks, 'one callback, to the redirect URI').toHaveLength(1)
    expect(new URL(callbacks[0] ?? '').searchParams.has('code')).toBe(true)
    expect(page.url(), 'no code, state or iss left in the address bar').toBe(`${spa.url}/`)
    expect(spa.op.tokenRequests(), 'one code exchange').toBe(1)
    expect(issued).toHaveLength(1)
    const token = issued[0] as string
    await expect(page.locator('#token-preview')).toHaveText(
      `${token.slice(0, 6)}… (${token.length} characters)`,
    )
    const text = (await page.locator('body').textContent()) + (await page.content())
    expect(text).not.toContain(token)
    await page.screenshot({ path: test.info().outputPath('redirect-signed-in.png'), fullPage: true })
  })

  await test.step('a reload stays signed in, with no token request', async () => {
    await page.reload()
    await expect(page.locator('html')).toHaveAttribute('data-ready', 'true')
    await expect(page.locator('#signed-in')).toBeVisible()
    await expect(page.locator('#user')).toHaveText('ada')
    expect(spa.op.tokenRequests()).toBe(1)
    expect(issued).toHaveLength(1)
  })

  await test.step('Sign out revokes at the provider and clears the tab', async () => {
    const token = issued[0] as string
    await page.getByRole('button', { name: 'Sign out' }).click()
    await expect(page.locator('#notice')).toHaveText('Signed out: the provider revoked the tokens.')
    await expect(page.locator('#signed-out')).toBeVisible()
    expect(await spa.op.provider.AccessToken.find(token)).toBeUndefined()
    expect(await page.evaluate(() => sessionStorage.getItem('spa-example.token'))).toBeNull()
    await page.reload()
    await expect(page.locator('html')).toHaveAttribute('data-ready', 'true')
    await expect(page.locator('#signed-out')).toBeVisible()
    await expect(page.locator('#error')).toBeHidden()
  })

  await test.step('cancel at consent: back signed out, with the reason', async () => {
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    // The provider still has its own session (login skipped): straight to consent.
    await expect(page.getByRole('heading', { name: 'Authorize' })).toBeVisible()
    await page.getByRole('link', { name: '[ Cancel ]' }).click()
    await page.waitForURL((url) => url.origin === spa.url)
    await expect(page.locator('html')).toHaveAttribute('data-ready', 'true')
    await expect(page.locator('#signed-out')).toBeVisible()
    await expect(page.locator('#error')).toContainText('access_denied')
    expect(page.url()).toBe(`${spa.url}/`)
    expect(spa.op.tokenRequests()).toBe(1)
  })

  expect(consoleErrors).toEqual([])
})

test('httpProxyUrl, verify or clientCert in a browser is a TypeError: the browser manages proxies and certificates', async ({
  page,
}) => {
  const spa = closedAfterTest(await startSpaServer())
  await openSpa(page, spa)
  // A string, not a function: the page resolves `token-client` through its import map, untouched by any
  // transpilation of this file.
  const outcomes = await page.evaluate(`(async () => {
    const { getToken } = await import('token-client')
    const attempts = [
      { httpProxyUrl: 'http://127.0.0.1:3128' },
      { verify: false },
      { verify: '/etc/ca.pem' },
      { clientCert: { cert: '/etc/client.pem', key: '/etc/client-key.pem' } },
    ]
    const results = []
    for (const options of attempts) {
      try {
        await getToken(${JSON.stringify(spa.op.tokenEndpoint)}, { clientId: 'device-client', ...options })
        results.push({ name: 'resolved', message: '' })
      } catch (error) {
        results.push({ name: error.name, message: error.message })
      }
    }
    return results
  })()`)
  expect(outcomes).toEqual([
    {
      name: 'TypeError',
      message:
        'httpProxyUrl cannot be set in a browser: the browser manages proxies and certificates itself. Remove the option (set them in the browser or OS).',
    },
    {
      name: 'TypeError',
      message: expect.stringMatching(/^verify cannot be set in a browser: the browser manages/),
    },
    {
      name: 'TypeError',
      message: expect.stringMatching(/^verify cannot be set in a browser: the browser manages/),
    },
    {
      name: 'TypeError',
      message:
        'clientCert cannot be set in a browser: the browser manages proxies and client certificates itself. Remove the option (set them in the browser or OS).',
    },
  ])
  expect(spa.op.tokenRequests()).toBe(0)
})
