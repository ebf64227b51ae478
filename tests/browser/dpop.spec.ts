/**
 * DPoP (RFC 9449) in Chromium: BrowserAuthenticator with `dpop: indexedDbDPoP('web')` signs in by redirect against
 * oidc-provider (nonces required: its CORS exposes DPoP-Nonce), through its login and consent pages.
 * - the code exchange is bound to the key: the provider's access token carries `cnf.jkt` = the key's thumbprint;
 *   sessionStorage keeps only the token set (tokenType DPoP, the thumbprint), no key;
 * - after a reload the same key comes out of IndexedDB: a refresh with a proof by it succeeds (the public client's
 *   refresh token is bound to the key), and `authenticator.fetch` to a CORS resource server that verifies every
 *   proof (tests/fixtures/dpop-verifier.ts) is accepted after its one nonce challenge;
 * - the stored private key is a non-extractable CryptoKey: `crypto.subtle.exportKey` on it fails.
 */
import { type BrowserContext, expect, type Page, test } from '@playwright/test'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { startDPoPResourceServer } from '../fixtures/dpop-verifier.ts'
import { startOidcProvider } from '../fixtures/oidc.ts'
import { bundleMounts, bundlePage, contentTypes, startStaticServer } from '../fixtures/static-server.ts'

const closedAfterTest = closeAfterEach(test)

const scopes = ['openid', 'offline_access', 'api:read']
const tokenKey = 'token-client:web-client:token'

interface AppWindow {
  ready?: boolean
  redirect: Promise<unknown>
  auth: {
    getAccessToken(): Promise<string>
    invalidate(): Promise<void>
    fetch(url: string, init?: RequestInit): Promise<Response>
  }
  jkt(): Promise<string>
}

const script = (config: Record<string, unknown>): string => `
  import { BrowserAuthenticator, indexedDbDPoP } from 'token-client'
  const dpop = indexedDbDPoP('web')
  const auth = new BrowserAuthenticator({ ...${JSON.stringify(config)}, dpop })
  window.auth = auth
  window.jkt = async () => (await indexedDbDPoP('web')).jkt
  window.redirect = auth.handleRedirect().then((v) => v ?? null, (e) => ({ failed: e.message }))
  document.querySelector('#sign-in').onclick = () => auth.signIn({ prompt: 'consent' })
  window.ready = true
`

async function blockFonts(context: BrowserContext): Promise<void> {
  await context.route('https://fonts.googleapis.com/**', (route) => route.abort())
  await context.route('https://fonts.gstatic.com/**', (route) => route.abort())
}

async function loaded(page: Page): Promise<unknown> {
  await page.waitForFunction(() => (window as unknown as AppWindow).ready === true)
  return page.evaluate(() => (window as unknown as AppWindow).redirect)
}

test('sign-in bound to a key kept in IndexedDB: reload, refresh and resource requests by the same key; not exportable', async ({
  page,
  context,
}) => {
  test.setTimeout(120_000)
  let config: Record<string, unknown> = {}
  const html = () => ({
    type: contentTypes['.html'] ?? '',
    body: bundlePage('dpop', '<button id="sign-in" type="button">Sign in</button>', script(config)),
  })
  const site = closedAfterTest(
    await startStaticServer({ mounts: bundleMounts, generated: { '/': html, '/callback': html } }),
  )
  const redirectUri = `${site.url}/callback`
  const op = closedAfterTest(
    await startOidcProvider({ corsOrigins: [site.url], redirectUris: [redirectUri], dpopNonce: 'required' }),
  )
  config = { issuer: op.issuer, clientId: op.webClient.clientId, redirectUri, scopes }
  const rs = closedAfterTest(
    await startDPoPResourceServer({
      jktOf: async (token) => (await op.provider.AccessToken.find(token))?.jkt,
      corsOrigin: site.url,
    }),
  )
  await blockFonts(context)
  await page.goto(`${site.url}/`)
  expect(await loaded(page)).toBeNull()
  const jkt = await page.evaluate(() => (window as unknown as AppWindow).jkt())

  let token = ''
  await test.step('sign in: the code exchange carries a proof, the token is bound to the key', async () => {
    await page.locator('#sign-in').click()
    await page.waitForURL((url) => url.origin === op.issuer)
    await page.locator('input[name="login"]').fill('ada')
    await page.locator('input[name="password"]').fill('any password')
    await page.locator('button.login-submit').click()
    await expect(page.getByRole('heading', { name: 'Authorize' })).toBeVisible()
    await page.locator('button.login-submit').click()
    await page.waitForURL((url) => url.origin === site.url)
    expect(await loaded(page)).toEqual({})
    token = await page.evaluate(() => (window as unknown as AppWindow).auth.getAccessToken())
    const known = await op.provider.AccessToken.find(token)
    expect(known?.accountId).toBe('ada')
    expect(known?.jkt).toBe(jkt)
    // RFC 9449 §8: the exchange was answered use_dpop_nonce once (the nonce read through CORS), then retried.
    expect(op.tokenRequests()).toBe(2)
    const stored = JSON.parse(
      (await page.evaluate((k) => sessionStorage.getItem(k), tokenKey)) ?? '{}',
    ) as Record<string, unknown>
    expect(stored).toMatchObject({ tokenType: 'DPoP', jkt })
    expect(Object.keys(stored)).not.toContain('d')
    expect(JSON.stringify(stored)).not.toMatch(/"d":/)
  })

  await test.step('reload: the same key from IndexedDB; a refresh with a proof by it succeeds', async () => {
    await page.reload()
    expect(await loaded(page)).toBeNull()
    expect(await page.evaluate(() => (window as unknown as AppWindow).jkt())).toBe(jkt)
    const before = op.tokenRequests()
    const refreshed = await page.evaluate(async () => {
      const { auth } = window as unknown as AppWindow
      await auth.getAccessToken() // the stored one, adopted after the reload
      await auth.invalidate()
      return auth.getAccessToken()
    })
    expect(refreshed).not.toBe(token)
    // A new page load knows no nonce: the refresh's first answer is use_dpop_nonce, its retry the token.
    expect(op.tokenRequests() - before).toBe(2)
    expect((await op.provider.AccessToken.find(refreshed))?.jkt).toBe(jkt)
  })

  await test.step('authenticator.fetch to a verifying resource server: the nonce challenge, then accepted', async () => {
    const results = await page.evaluate(async (url) => {
      const { auth } = window as unknown as AppWindow
      const first = await auth.fetch(`${url}/items?page=1`)
      const second = await auth.fetch(`${url}/items`, { method: 'POST', body: 'payload' })
      return [first.status, await first.json(), second.status]
    }, rs.url)
    expect(results).toEqual([200, { ok: true, path: '/items?page=1' }, 200])
    expect(rs.refusals()).toEqual(['use_dpop_nonce'])
    expect(rs.accepted()).toBe(2)
  })

  await test.step('the private key in IndexedDB is a CryptoKey no script can export', async () => {
    const outcome = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('token-client-dpop')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      const pair = await new Promise<CryptoKeyPair>((resolve, reject) => {
        const request = db.transaction('keys').objectStore('keys').get('web')
        request.onsuccess = () => resolve(request.result as CryptoKeyPair)
        request.onerror = () => reject(request.error)
      })
      db.close()
      const exported = await crypto.subtle.exportKey('jwk', pair.privateKey).then(
        () => 'exported',
        (e: Error) => e.name,
      )
      return {
        isCryptoKey: pair.privateKey instanceof CryptoKey,
        extractable: pair.privateKey.extractable,
        exported,
      }
    })
    expect(outcome).toEqual({ isCryptoKey: true, extractable: false, exported: 'InvalidAccessError' })
  })
})
