/**
 * webStorageStore in Chromium: a page imports the built bundle (dist/index.js, with ky and valibot through an
 * import map, from a static server on its own 127.0.0.1 origin), signs in with DeviceCodeAuthenticator against
 * the real oidc-provider (CORS allowed for that origin) and keeps the token in sessionStorage; after a reload
 * the stored token is used with no new request and no new device flow.
 */
import { expect, test } from '@playwright/test'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { startDevicePageSite } from '../fixtures/device-page.ts'
import { bundlePage } from '../fixtures/static-server.ts'

const closedAfterTest = closeAfterEach(test)
const storageKey = 'web-storage-test.token'

function appHtml(config: Record<string, unknown>): string {
  return bundlePage(
    'web storage',
    '<p id="code"></p>\n  <p id="status">signing in</p>',
    `
    import { DeviceCodeAuthenticator, webStorageStore } from 'token-client'
    const config = ${JSON.stringify(config)}
    window.shownCodes = 0
    const auth = new DeviceCodeAuthenticator({
      ...config,
      store: webStorageStore(sessionStorage, ${JSON.stringify(storageKey)}),
      onDeviceCode: (code) => {
        window.shownCodes++
        document.querySelector('#code').textContent = code.userCode
      },
    })
    window.signedIn = auth.getAccessToken().then((token) => {
      document.querySelector('#status').textContent = 'signed in'
      return token
    })`,
  )
}

test('webStorageStore: a token in sessionStorage is reused after a reload, without a new flow', async ({
  page,
}) => {
  const { site, op } = await startDevicePageSite(closedAfterTest, appHtml)

  await page.goto(site.url)
  const code = page.locator('#code')
  await expect(code).not.toBeEmpty()
  await op.approve((await code.textContent()) ?? '')
  await expect(page.locator('#status')).toHaveText('signed in', { timeout: 20_000 })
  const token = await page.evaluate(() => (window as unknown as { signedIn: Promise<string> }).signedIn)
  expect(await op.provider.AccessToken.find(token)).toBeTruthy()
  const requestsAfterSignIn = op.tokenRequests()

  const stored = JSON.parse(
    (await page.evaluate((key) => sessionStorage.getItem(key), storageKey)) ?? 'null',
  ) as Record<string, unknown>
  expect(stored.accessToken).toBe(token)
  expect(stored.refreshToken).toEqual(expect.any(String))
  expect(stored.expiresAt).toBeGreaterThan(Date.now())
  expect(stored.obtainedAt).toBeLessThanOrEqual(Date.now())

  await page.reload()
  await expect(page.locator('#status')).toHaveText('signed in')
  expect(await page.evaluate(() => (window as unknown as { signedIn: Promise<string> }).signedIn)).toBe(token)
  expect(await page.evaluate(() => (window as unknown as { shownCodes: number }).shownCodes)).toBe(0)
  expect(op.tokenRequests()).toBe(requestsAfterSignIn)

  // sessionStorage belongs to the tab: a new tab starts its own device flow.
  const other = await page.context().newPage()
  await other.goto(site.url)
  await expect(other.locator('#code')).not.toBeEmpty()
  expect(await other.evaluate((key) => sessionStorage.getItem(key), storageKey)).toBeNull()
  await other.close()
})
