/**
 * webStorageStore in Chromium: a page imports the built bundle (dist/index.js, with ky and valibot through an
 * import map, from a static server on its own 127.0.0.1 origin), signs in with DeviceCodeAuthenticator against
 * the real oidc-provider (CORS allowed for that origin) and keeps the token in sessionStorage; after a reload
 * the stored token is used with no new request and no new device flow.
 */
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize } from 'node:path'
import { expect, test } from '@playwright/test'
import { type OidcFixture, startOidcProvider } from '../fixtures/oidc.ts'

const root = process.cwd()
const served: Record<string, string> = {
  '/dist/': join(root, 'dist'),
  '/node_modules/ky/': join(root, 'node_modules/ky'),
  '/node_modules/valibot/': join(root, 'node_modules/valibot'),
}
const types: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
}
const storageKey = 'h6.token'

function appHtml(config: Record<string, unknown>): string {
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>web storage</title>
  <script type="importmap">
    { "imports": {
      "token-client": "/dist/index.js",
      "ky": "/node_modules/ky/distribution/index.js",
      "valibot": "/node_modules/valibot/dist/index.mjs"
    } }
  </script>
</head>
<body>
  <p id="code"></p>
  <p id="status">signing in</p>
  <script type="module">
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
    })
  </script>
</body>
</html>`
}

async function startStaticServer(html: () => string): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html())
      return
    }
    const prefix = Object.keys(served).find((p) => path.startsWith(p))
    const base = prefix === undefined ? undefined : served[prefix]
    const file =
      prefix === undefined || base === undefined
        ? undefined
        : normalize(join(base, path.slice(prefix.length)))
    if (file === undefined || base === undefined || !file.startsWith(base)) {
      res.writeHead(404).end()
      return
    }
    readFile(file).then(
      (body) =>
        res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

let op: OidcFixture | undefined
let site: { origin: string; close(): Promise<void> } | undefined

test.afterEach(async () => {
  await op?.close()
  await site?.close()
  op = undefined
  site = undefined
})

test('webStorageStore: a token in sessionStorage is reused after a reload, without a new flow', async ({
  page,
}) => {
  let config: Record<string, unknown> = {}
  site = await startStaticServer(() => appHtml(config))
  op = await startOidcProvider({ corsOrigins: [site.origin], deviceInterval: 1 })
  config = {
    tokenEndpoint: op.tokenEndpoint,
    deviceAuthorizationEndpoint: op.deviceAuthorizationEndpoint,
    clientId: op.deviceClient.clientId,
    scopes: ['openid', 'offline_access', 'api:read'],
  }

  await page.goto(site.origin)
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
  await other.goto(site.origin)
  await expect(other.locator('#code')).not.toBeEmpty()
  await other.close()
})
