/**
 * Tabs sharing a session: four Chromium tabs of one origin, webStorageStore(localStorage, …), an expired access
 * token and the real oidc-provider rotating refresh tokens. The store's lock (Web Locks) lets one tab refresh;
 * the others find its token under the lock: 1 refresh request, no invalid_grant, all four signed in.
 */
import { expect, type Page, test } from '@playwright/test'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { startDevicePageSite } from '../fixtures/device-page.ts'
import { bundlePage } from '../fixtures/static-server.ts'

const closedAfterTest = closeAfterEach(test)
const storageKey = 'shared-tabs.token'

function appHtml(config: Record<string, unknown>): string {
  return bundlePage(
    'shared tabs',
    '<p id="code"></p>',
    `
    import { DeviceCodeAuthenticator, webStorageStore } from 'token-client'
    window.deviceFlows = 0
    window.auth = new DeviceCodeAuthenticator({
      ...${JSON.stringify(config)},
      store: webStorageStore(localStorage, ${JSON.stringify(storageKey)}),
      onDeviceCode: (code) => {
        window.deviceFlows++
        document.querySelector('#code').textContent = code.userCode
      },
    })
    window.ready = true`,
  )
}

interface AppWindow {
  ready?: boolean
  deviceFlows: number
  auth: { getAccessToken(): Promise<string> }
}

async function openTab(page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.waitForFunction(() => (window as unknown as AppWindow).ready === true)
}

test('4 tabs, localStorage, an expired token, rotating refresh tokens: 1 refresh, no invalid_grant, all signed in', async ({
  page,
  context,
}) => {
  const { site, op } = await startDevicePageSite(closedAfterTest, appHtml)

  // Sign in once in the first tab.
  await openTab(page, site.url)
  const signedIn = page.evaluate(() => (window as unknown as AppWindow).auth.getAccessToken())
  const code = page.locator('#code')
  await expect(code).not.toBeEmpty()
  await op.approve((await code.textContent()) ?? '')
  const first = await signedIn

  // The access token's lifetime has passed (the refresh token is still good).
  await page.evaluate((key) => {
    const stored = JSON.parse(localStorage.getItem(key) ?? '{}')
    stored.expiresAt = stored.obtainedAt
    localStorage.setItem(key, JSON.stringify(stored))
  }, storageKey)
  const { refreshToken: oldRefresh } = JSON.parse(
    (await page.evaluate((key) => localStorage.getItem(key), storageKey)) ?? '{}',
  ) as { refreshToken: string }

  const tabs = [page]
  for (let i = 1; i < 4; i++) {
    const tab = await context.newPage()
    await openTab(tab, site.url)
    tabs.push(tab)
  }
  // The first tab still holds the old token in memory: make it look expired there too.
  await page.reload()
  await page.waitForFunction(() => (window as unknown as AppWindow).ready === true)

  const before = op.tokenRequests()
  const tokens = await Promise.all(
    tabs.map((tab) => tab.evaluate(() => (window as unknown as AppWindow).auth.getAccessToken())),
  )
  expect(op.tokenRequests() - before, 'one refresh request in all').toBe(1)
  expect(new Set(tokens).size, 'every tab holds the same new token').toBe(1)
  expect(tokens[0]).not.toBe(first)
  expect(await op.provider.AccessToken.find(tokens[0] ?? '')).toBeTruthy()
  const flows = await Promise.all(
    tabs.map((tab) => tab.evaluate(() => (window as unknown as AppWindow).deviceFlows)),
  )
  expect(flows).toEqual([0, 0, 0, 0])
  const stored = JSON.parse(
    (await page.evaluate((key) => localStorage.getItem(key), storageKey)) ?? '{}',
  ) as { refreshToken: string }
  expect(stored.refreshToken, 'rotated once').not.toBe(oldRefresh)
})
