/**
 * Serves the SPA example on its own origin (http://127.0.0.1:PORT) and starts an identity provider for it to
 * sign in against (the oidc-provider test fixture, on another 127.0.0.1 port, with CORS allowed for the SPA's
 * origin only and the SPA's page, `${url}/`, as the web client's only redirect URI). No build step for the app: the page imports the built dist/index.js as an ES module, and an
 * import map points its bare `ky` and `valibot` imports at the files in node_modules, served from here.
 *
 *   npm run example:spa          (builds, then runs this file; PORT=8080 to pick the port)
 *
 * Also imported by tests/browser/spa.spec.ts: `startSpaServer()` returns the URLs and a `close()`.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import {
  type OidcFixture,
  type StartOidcProviderOptions,
  startOidcProvider,
} from '../../tests/fixtures/oidc.ts'
import { bundleMounts, contentTypes, startStaticServer } from '../../tests/fixtures/static-server.ts'

const directory = fileURLToPath(new URL('.', import.meta.url))

/** Content-Security-Policy for the page: scripts from here (and the import map, by hash), fetches to here and
 * to the identity provider only. A token-holding page should make injected scripts as useless as possible. */
async function contentSecurityPolicy(issuer: string): Promise<string> {
  const html = await readFile(new URL('index.html', import.meta.url), 'utf8')
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
  /** The SPA's origin, e.g. http://127.0.0.1:PORT (the page, also the redirect URI, is at `${url}/`). */
  url: string
  /** The identity provider the SPA signs in against. */
  op: OidcFixture
  close(): Promise<void>
}

export interface StartSpaServerOptions {
  /** Port for the SPA (default: a free one). */
  port?: number
  /**
   * Passed to the identity provider (`corsOrigins` is always the SPA's origin, `redirectUris` its page).
   */
  provider?: Omit<StartOidcProviderOptions, 'corsOrigins' | 'redirectUris'>
}

export async function startSpaServer(options: StartSpaServerOptions = {}): Promise<SpaServer> {
  // The provider needs the SPA's origin (CORS) and the page needs the provider's URLs: both are known only
  // once both listen, so the generated answers read them late.
  let config = ''
  let htmlHeaders: Record<string, string> = {}
  const site = await startStaticServer({
    ...(options.port === undefined ? {} : { port: options.port }),
    mounts: [...bundleMounts, ['/', directory.replace(/\/$/, '')]],
    generated: { '/config.json': () => ({ type: contentTypes['.json'] ?? '', body: config }) },
    htmlHeaders: () => htmlHeaders,
  })
  // The page is its own callback: the provider sends the browser back to exactly this URI (the web client's
  // redirect URIs are matched exactly, RFC 6749 §3.1.2). The SPA calls the token, revocation, userinfo and
  // device endpoints cross-origin: the provider must allow exactly this origin (CORS).
  const redirectUri = `${site.url}/`
  const op = await startOidcProvider({
    ...options.provider,
    corsOrigins: [site.url],
    redirectUris: [redirectUri],
  }).catch(async (err: unknown) => {
    await site.close()
    throw err
  })
  htmlHeaders = {
    'content-security-policy': await contentSecurityPolicy(op.issuer),
    'referrer-policy': 'no-referrer',
  }
  config = JSON.stringify({
    // Redirect sign-in: the endpoints are discovered from the issuer.
    issuer: op.issuer,
    clientId: op.webClient.clientId,
    redirectUri,
    // offline_access: a refresh token, rotated on each use (RFC 9700 §4.14.2), kept in the tab's sessionStorage.
    scopes: ['openid', 'offline_access', 'api:read'],
    userinfoEndpoint: op.provider.urlFor('userinfo'),
    device: {
      deviceAuthorizationEndpoint: op.deviceAuthorizationEndpoint,
      tokenEndpoint: op.tokenEndpoint,
      revocationEndpoint: op.revocationEndpoint,
      clientId: op.deviceClient.clientId,
      // No offline_access: this session lives in the page's memory only, a refresh token would outlive it.
      scope: ['openid', 'api:read'],
    },
  })
  return {
    url: site.url,
    op,
    close: async () => {
      await Promise.all([op.close(), site.close()])
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
