/**
 * Browser bundle sizes of one app — a device flow (code, show, poll) plus client-credentials and refresh
 * grants — written with token-client, oauth4webapi and openid-client. Shared by bench/run.ts and
 * scripts/size-check.ts (which enforces the budgets in `npm test`).
 *
 * esbuild: bundle, minify, ESM, browser platform, target ES2022; then gzip level 9 and brotli quality 11.
 * Sizes are bytes; "KB" in the budgets and tables is 1000 bytes.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))

/** The performance issue's targets (gzip bytes): `npm run size` reports them as met or not met. */
export const targets = {
  /** (a): the whole app, ky and valibot included. */
  full: 11_000,
  /** (b): the same app with ky and valibot external: what token-client adds to an app that already ships them. */
  marginal: 2_000,
  /** (c): an SPA signing in by redirect (issue "Sign-in with the browser"; oidc-client-ts is about 17 KB). */
  spa: 16_000,
  /** (d): the SPA of (c) with DPoP-bound tokens (keys issue): at most 2.0 KB over (c)'s budget. */
  spaDPoP: 23_500,
} as const

/**
 * Regression budgets (gzip bytes), enforced: `npm run size` (in `npm test`) fails when a bundle grows past them.
 * The targets above are out of reach (ky alone is 8.87 KB of (a)'s 11), so these are the sizes measured after
 * the last shrink, rounded up to the next 0.25 KB: (a) 14.81 KB, (b) 5.28 KB. Lower them when code shrinks.
 * Raised for the shared-sessions and sign-in issues (the session's status retries, the authorization code grant's
 * fields in getToken: (a) 15.07 KB, (b) 5.46 KB). (c), the SPA bundle, measured 20.59 KB when it was added: its
 * 16.0 KB target is out of reach while ky (8.9 KB of it) carries every request. 20.98 KB with the cross-tab
 * catch-up of webStorageStore's lock (Chromium's per-tab localStorage copies).
 * Raised for the keys issue (private_key_jwt, DPoP, mTLS): the request path's hooks for a client assertion, a
 * DPoP handle and a client certificate, and the mutual-TLS hint of a refused handshake ((a) 15.37 KB,
 * (b) 5.76 KB, (c) 21.31 KB with everything above); the signing code itself (JWS, assertions, DPoP proofs) is
 * tree-shaken out of all three bundles, which use none of it.
 * The keys integration (DPoP in the authenticators, getDeviceCode with client authentication): (a) 15.40 KB (the
 * device authorization request's client-authentication fields), (c) 21.50 KB (the authenticators' DPoP hooks:
 * the handle is passed in, so proofs, JWS and IndexedDB code stay out); (d) measured 22.94 KB.
 */
export const budgets = {
  full: 15_500,
  marginal: 6_000,
  spa: 21_500,
  /** (d) = (c)'s budget + 2.0 KB: what DPoP (proofs, JWS signing, the IndexedDB key) may add to an SPA. */
  spaDPoP: 23_500,
} as const

const tokenClientApp = (entry = dist): string => `
import { GrantType, getBasicAuthorizationHeader, getDeviceCode, getToken, pollTokenEndpoint } from ${JSON.stringify(entry)}
export async function signIn(deviceEndpoint, tokenEndpoint, clientId, show) {
  const resp = await getDeviceCode(deviceEndpoint, clientId, { scope: ['openid', 'offline_access'] })
  show(resp.verificationUriComplete ?? resp.verificationUri, resp.userCode)
  return pollTokenEndpoint(resp, tokenEndpoint, clientId)
}
export function clientCredentials(tokenEndpoint, clientId, clientSecret) {
  const authorizationHeader = getBasicAuthorizationHeader(clientId, clientSecret)
  return getToken(tokenEndpoint, { authorizationHeader, scopes: ['api:read'] })
}
export function refresh(tokenEndpoint, clientId, refreshToken) {
  return getToken(tokenEndpoint, { grantType: GrantType.REFRESH_TOKEN, clientId, refreshToken })
}
`

const oauth4webapiApp = `
import * as oauth from 'oauth4webapi'
const server = (tokenEndpoint, deviceEndpoint) =>
  ({ issuer: new URL(tokenEndpoint).origin, token_endpoint: tokenEndpoint, device_authorization_endpoint: deviceEndpoint })
export async function signIn(deviceEndpoint, tokenEndpoint, clientId, show) {
  const as = server(tokenEndpoint, deviceEndpoint)
  const client = { client_id: clientId }
  const auth = oauth.None()
  const resp = await oauth.processDeviceAuthorizationResponse(as, client,
    await oauth.deviceAuthorizationRequest(as, client, auth, { scope: 'openid offline_access' }))
  show(resp.verification_uri_complete ?? resp.verification_uri, resp.user_code)
  let interval = resp.interval ?? 5
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, interval * 1000))
    try {
      return await oauth.processDeviceCodeResponse(as, client,
        await oauth.deviceCodeGrantRequest(as, client, auth, resp.device_code))
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError && err.error === 'authorization_pending') continue
      if (err instanceof oauth.ResponseBodyError && err.error === 'slow_down') { interval += 5; continue }
      throw err
    }
  }
}
export async function clientCredentials(tokenEndpoint, clientId, clientSecret) {
  const as = server(tokenEndpoint)
  const client = { client_id: clientId }
  return oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(clientSecret), { scope: 'api:read' }))
}
export async function refresh(tokenEndpoint, clientId, refreshToken) {
  const as = server(tokenEndpoint)
  const client = { client_id: clientId }
  return oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken))
}
`

const openidClientApp = `
import * as openid from 'openid-client'
const configure = (tokenEndpoint, deviceEndpoint, clientId, auth) => new openid.Configuration(
  { issuer: new URL(tokenEndpoint).origin, token_endpoint: tokenEndpoint, device_authorization_endpoint: deviceEndpoint },
  clientId, undefined, auth)
export async function signIn(deviceEndpoint, tokenEndpoint, clientId, show) {
  const config = configure(tokenEndpoint, deviceEndpoint, clientId, openid.None())
  const resp = await openid.initiateDeviceAuthorization(config, { scope: 'openid offline_access' })
  show(resp.verification_uri_complete ?? resp.verification_uri, resp.user_code)
  return openid.pollDeviceAuthorizationGrant(config, resp)
}
export function clientCredentials(tokenEndpoint, clientId, clientSecret) {
  const config = configure(tokenEndpoint, undefined, clientId, openid.ClientSecretBasic(clientSecret))
  return openid.clientCredentialsGrant(config, { scope: 'api:read' })
}
export function refresh(tokenEndpoint, clientId, refreshToken) {
  return openid.refreshTokenGrant(configure(tokenEndpoint, undefined, clientId, openid.None()), refreshToken)
}
`

const spaApp = (entry = dist): string => `
import { BrowserAuthenticator, webStorageStore } from ${JSON.stringify(entry)}
export function start(issuer, clientId, redirectUri) {
  const auth = new BrowserAuthenticator({
    issuer, clientId, redirectUri, scopes: ['openid', 'offline_access'],
    store: webStorageStore(localStorage, 'app.token'),
  })
  return { auth, ready: auth.handleRedirect(), signIn: () => auth.signIn(), signOut: () => auth.signOut() }
}
`

const spaDPoPApp = (entry = dist): string => `
import { BrowserAuthenticator, indexedDbDPoP, webStorageStore } from ${JSON.stringify(entry)}
export function start(issuer, clientId, redirectUri) {
  const auth = new BrowserAuthenticator({
    issuer, clientId, redirectUri, scopes: ['openid', 'offline_access'],
    store: webStorageStore(localStorage, 'app.token'),
    dpop: indexedDbDPoP('app'),
  })
  return { auth, ready: auth.handleRedirect(), signIn: () => auth.signIn(), signOut: () => auth.signOut() }
}
`

export interface BundleSize {
  name: string
  /** What the bundle contains. */
  note: string
  minified: number
  gzip: number
  brotli: number
  /** The regression budget (gzip) it is held to, if any. */
  budget?: number
  /** The gzip target for it, if any. */
  target?: number
  /** Minified bytes each input file (or package) contributes, largest first. */
  inputs: { path: string; bytes: number }[]
}

async function measure(
  contents: string,
  external: string[] = [],
  loader: 'js' | 'ts' = 'js',
): Promise<Omit<BundleSize, 'name' | 'note'>> {
  const result = await build({
    stdin: { contents, resolveDir: root, sourcefile: `app.${loader}`, loader },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external,
    write: false,
    metafile: true,
    outfile: 'app.min.js',
    logLevel: 'silent',
    legalComments: 'none',
  })
  const code = result.outputFiles[0]?.contents ?? new Uint8Array()
  const byInput = new Map<string, number>()
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = path.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, '$1').replace(root, '')
      byInput.set(key, (byInput.get(key) ?? 0) + bytesInOutput)
    }
  }
  return {
    inputs: [...byInput].map(([path, bytes]) => ({ path, bytes })).sort((a, b) => b.bytes - a.bytes),
    minified: code.byteLength,
    gzip: gzipSync(code, { level: 9 }).byteLength,
    brotli: brotliCompressSync(code, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: code.byteLength,
      },
    }).byteLength,
  }
}

/** The token-client bundles the budgets apply to. Needs `dist/` (run `npm run build` first). */
export async function tokenClientBundles(): Promise<BundleSize[]> {
  if (!existsSync(dist)) throw new Error('dist/index.js is missing: run `npm run build` first.')
  return [
    {
      name: '(a) token-client',
      note: 'device flow + client credentials + refresh, ky and valibot included',
      ...(await measure(tokenClientApp())),
      budget: budgets.full,
      target: targets.full,
    },
    {
      name: '(b) token-client, ky + valibot external',
      note: 'our marginal cost for an app that already ships ky and valibot',
      ...(await measure(tokenClientApp(), ['ky', 'valibot'])),
      budget: budgets.marginal,
      target: targets.marginal,
    },
    {
      name: '(c) token-client SPA',
      note: 'BrowserAuthenticator + webStorageStore (redirect sign-in, refresh, fetch, sign-out), all dependencies in',
      ...(await measure(spaApp())),
      budget: budgets.spa,
      target: targets.spa,
    },
    {
      name: '(d) token-client SPA with DPoP',
      note: '(c) with dpop: indexedDbDPoP() (proofs, ES256 signing, the key in IndexedDB), all dependencies in',
      ...(await measure(spaDPoPApp())),
      budget: budgets.spaDPoP,
      target: targets.spaDPoP,
    },
  ]
}

/**
 * Minified bytes per source module of bundle (b), built from src/ instead of dist/ (same code, but esbuild
 * then knows which module each byte comes from): to see where a budget goes.
 */
export async function sourceBreakdown(): Promise<BundleSize['inputs']> {
  const src = fileURLToPath(new URL('../src/index.ts', import.meta.url))
  return (await measure(tokenClientApp(src), ['ky', 'valibot'], 'ts')).inputs
}

/** ky by itself (one `ky.post`): the floor under (a). */
export async function kyAloneBundle(): Promise<BundleSize> {
  return {
    name: 'ky alone',
    note: 'one ky.post: the part of (a) that is ky',
    ...(await measure("import ky from 'ky'\nexport const post = (url, body) => ky.post(url, { body })")),
  }
}

/** The same app with the alternatives, and ky by itself (the floor under (a)), for comparison. */
export async function alternativeBundles(): Promise<BundleSize[]> {
  return [
    await kyAloneBundle(),
    { name: 'oauth4webapi', note: 'the same app, all deps', ...(await measure(oauth4webapiApp)) },
    { name: 'openid-client', note: 'the same app, all deps', ...(await measure(openidClientApp)) },
  ]
}

export const kb = (bytes: number): string => `${(bytes / 1000).toFixed(2)} KB`
