/**
 * Serves the SPA example on its own origin (http://127.0.0.1:PORT) and starts an identity provider for it to
 * sign in against (the oidc-provider test fixture, on another 127.0.0.1 port, with CORS allowed for the SPA's
 * origin only). No build step for the app: the page imports the built dist/index.js as an ES module, and an
 * import map points its bare `ky` and `valibot` imports at the files in node_modules, served from here.
 *
 *   npm run example:spa          (builds, then runs this file; PORT=8080 to pick the port)
 *
 * Also imported by tests/browser/spa.spec.ts: `startSpaServer()` returns the URLs and a `close()`.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type OidcFixture,
  type StartOidcProviderOptions,
  startOidcProvider,
} from '../../tests/fixtures/oidc.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** URL prefix → directory served under it. Nothing outside these directories is reachable. */
const mounts: Array<[prefix: string, dir: string]> = [
  ['/dist/', join(root, 'dist')],
  ['/node_modules/ky/distribution/', join(root, 'node_modules', 'ky', 'distribution')],
  ['/node_modules/valibot/dist/', join(root, 'node_modules', 'valibot', 'dist')],
  ['/', join(root, 'examples', 'spa')],
]

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
}

function resolveFile(pathname: string): string | undefined {
  const path = pathname === '/' ? '/index.html' : pathname
  for (const [prefix, dir] of mounts) {
    if (!path.startsWith(prefix)) continue
    const file = normalize(join(dir, decodeURIComponent(path.slice(prefix.length))))
    if (!file.startsWith(dir + sep)) return undefined
    if (prefix === '/' && /(^|\/)(serve\.ts|README\.md)$/.test(path)) return undefined
    return contentTypes[extname(file)] === undefined ? undefined : file
  }
  return undefined
}

/** Content-Security-Policy for the page: scripts from here (and the import map, by hash), fetches to here and
 * to the identity provider only. A token-holding page should make injected scripts as useless as possible. */
async function contentSecurityPolicy(issuer: string): Promise<string> {
  const html = await readFile(join(root, 'examples', 'spa', 'index.html'), 'utf8')
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? ''
  const hash = createHash('sha256').update(importMap).digest('base64')
  return [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    `connect-src 'self' ${issuer}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

export interface SpaServer {
  /** The SPA's origin, e.g. http://127.0.0.1:PORT (the page is at `${url}/`). */
  url: string
  /** The identity provider the SPA signs in against. */
  op: OidcFixture
  close(): Promise<void>
}

export interface StartSpaServerOptions {
  /** Port for the SPA (default: a free one). */
  port?: number
  /** Passed to the identity provider (`corsOrigins` is always the SPA's origin). */
  provider?: Omit<StartOidcProviderOptions, 'corsOrigins'>
}

export async function startSpaServer(options: StartSpaServerOptions = {}): Promise<SpaServer> {
  const server = http.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  // The SPA calls the token and device endpoints cross-origin: the provider must allow exactly this origin.
  const op = await startOidcProvider({ ...options.provider, corsOrigins: [url] })
  const csp = await contentSecurityPolicy(op.issuer)
  const config = JSON.stringify({
    issuer: op.issuer,
    deviceAuthorizationEndpoint: op.deviceAuthorizationEndpoint,
    tokenEndpoint: op.tokenEndpoint,
    clientId: op.deviceClient.clientId,
    // No offline_access: a browser app is better off without a long-lived refresh token (see the README).
    scope: ['openid', 'api:read'],
  })

  server.on('request', async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', url)
    const common = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...common, allow: 'GET, HEAD' }).end()
      return
    }
    if (pathname === '/config.json') {
      res.writeHead(200, { ...common, 'content-type': contentTypes['.json'] }).end(config)
      return
    }
    const file = resolveFile(pathname)
    const body = file === undefined ? undefined : await readFile(file).catch(() => undefined)
    if (file === undefined || body === undefined) {
      res.writeHead(404, { ...common, 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    const headers: Record<string, string> = { ...common, 'content-type': contentTypes[extname(file)] ?? '' }
    if (extname(file) === '.html') {
      headers['content-security-policy'] = csp
      headers['referrer-policy'] = 'no-referrer'
    }
    res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body)
  })

  return {
    url,
    op,
    close: async () => {
      await Promise.all([
        op.close(),
        new Promise<void>((resolve, reject) => {
          server.close((err) => (err ? reject(err) : resolve()))
          server.closeAllConnections()
        }),
      ])
    },
  }
}

if (import.meta.main) {
  const port = process.env.PORT === undefined ? undefined : Number(process.env.PORT)
  const spa = await startSpaServer(port === undefined ? {} : { port })
  process.stdout.write(
    `SPA example:        ${spa.url}/\nIdentity provider:  ${spa.op.issuer} (any login and password work)\nCtrl-C to stop.\n`,
  )
  const stop = () => {
    void spa.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
