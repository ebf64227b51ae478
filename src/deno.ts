import type { FetchAdapter } from './transport.ts'

export type { FetchAdapter } from './transport.ts'

type Transport = Parameters<FetchAdapter>[0]

// The few Deno APIs used here, declared locally so the package type-checks without Deno's global types.
interface DenoHttpClient {
  close(): void
}
interface DenoNamespace {
  createHttpClient(options: {
    caCerts?: string[]
    proxy?: { url: string; basicAuth?: { username: string; password: string } }
  }): DenoHttpClient
  readTextFileSync(path: string | URL): string
}

function deno(): DenoNamespace {
  const runtime = (globalThis as { Deno?: DenoNamespace }).Deno
  if (runtime === undefined || typeof runtime.createHttpClient !== 'function') {
    throw new TypeError(
      "denoAdapter runs only in Deno: in Node use nodeAdapter from 'token-client/node'; in a browser the browser manages proxies and certificates itself.",
    )
  }
  return runtime
}

// One fetch (one Deno.HttpClient, i.e. one connection pool) per distinct setting, reused for every request.
const fetchesBySetting = new Map<string, typeof fetch>()

/** The CA bundle for `verify`: PEM text as is, anything else is a file path (like requests' `verify=path`). */
function readCaBundle(runtime: DenoNamespace, verify: string): string {
  if (verify.includes('-----BEGIN')) return verify
  let text: string
  try {
    text = runtime.readTextFileSync(verify)
  } catch (err) {
    throw new TypeError(
      `verify: cannot read the CA bundle file ${verify} (Deno needs --allow-read for it): ${(err as Error).message}`,
      { cause: err },
    )
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TypeError(`verify: ${verify} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`)
  }
  return text
}

function createFetch({ httpProxyUrl, verify }: Transport): typeof fetch {
  if (verify === false) {
    throw new TypeError(
      'verify: false is not possible per request in Deno: Deno.createHttpClient cannot turn certificate checks off. Run Deno with --unsafely-ignore-certificate-errors=<host> instead (and leave verify unset), or pass verify: <CA bundle path or PEM> to trust your CA.',
    )
  }
  if (httpProxyUrl === undefined && typeof verify !== 'string') return globalThis.fetch
  const runtime = deno()
  const options: Parameters<DenoNamespace['createHttpClient']>[0] = {}
  if (typeof verify === 'string') options.caCerts = [readCaBundle(runtime, verify)]
  if (httpProxyUrl !== undefined) {
    let proxy: URL
    try {
      proxy = new URL(httpProxyUrl)
    } catch {
      // Not echoed: a proxy URL may carry a password.
      throw new TypeError(
        'httpProxyUrl is not an absolute URL (expected http://host:port or https://host:port).',
      )
    }
    if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
      throw new TypeError(`httpProxyUrl must be an http:// or https:// proxy URL, got ${proxy.protocol}//.`)
    }
    options.proxy = { url: proxy.origin }
    if (proxy.username !== '' || proxy.password !== '') {
      // Credentials in the proxy URL become Basic Proxy-Authorization (RFC 9110 §11.7.2), as in requests.
      options.proxy.basicAuth = {
        username: decodeURIComponent(proxy.username),
        password: decodeURIComponent(proxy.password),
      }
    }
  }
  const client = runtime.createHttpClient(options)
  // Deno's fetch takes the client as a non-standard init member.
  return (input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, client } as RequestInit)
}

/**
 * The Deno fetch adapter: the seed's `http_proxy_url` and `verify` on `Deno.createHttpClient`.
 * `httpProxyUrl` (http:// or https://, `http://user:pass@host:port` sends Basic Proxy-Authorization) becomes the
 * client's `proxy`; `verify: '<path or PEM text>'` adds that CA bundle to the trusted roots (`caCerts`; a path
 * needs `--allow-read`). Deno cannot turn certificate checks off per client, so `verify: false` throws a
 * `TypeError` that points to `--unsafely-ignore-certificate-errors`.
 *
 * Each distinct setting gets one `Deno.HttpClient`, created on first use and reused (keep-alive); the adapter
 * returns the same `fetch` for the same setting.
 *
 * @example
 * ```ts
 * import { getToken } from 'npm:token-client'
 * import { denoAdapter } from 'npm:token-client/deno'
 *
 * const token = await getToken('https://idp.internal/oauth2/token', {
 *   authorizationHeader,
 *   adapter: denoAdapter,
 *   httpProxyUrl: 'http://proxy.internal:3128',
 *   verify: './corp-ca.pem',
 * })
 * ```
 */
export const denoAdapter: FetchAdapter = (transport) => {
  const key = JSON.stringify([transport.httpProxyUrl ?? null, transport.verify ?? true])
  let fetchFn = fetchesBySetting.get(key)
  if (fetchFn === undefined) {
    fetchFn = createFetch(transport)
    fetchesBySetting.set(key, fetchFn)
  }
  return fetchFn
}
