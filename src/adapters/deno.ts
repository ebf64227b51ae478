import type { FetchAdapter } from '../protocol/transport.ts'
import {
  type AdapterSettings,
  fetchPerSetting,
  parseProxyUrl,
  readCaBundle,
  readClientCert,
} from './adapter-settings.ts'

// The few Deno APIs used here, declared locally so the package type-checks without Deno's global types.
interface DenoHttpClient {
  close(): void
}
interface DenoNamespace {
  createHttpClient(options: {
    caCerts?: string[]
    cert?: string
    key?: string
    proxy?: { url: string; basicAuth?: { username: string; password: string } }
  }): DenoHttpClient
  readTextFileSync(path: string | URL): string
}

function denoNamespace(): DenoNamespace {
  const runtime = (globalThis as { Deno?: DenoNamespace }).Deno
  if (runtime === undefined || typeof runtime.createHttpClient !== 'function') {
    throw new TypeError(
      "denoAdapter runs only in Deno: in Node use nodeAdapter from 'token-client/node'; in a browser the browser manages proxies and certificates itself.",
    )
  }
  return runtime
}

function createFetch({ httpProxyUrl, verify, clientCert }: AdapterSettings): typeof fetch {
  if (verify === false) {
    throw new TypeError(
      'verify: false is not possible per request in Deno: Deno.createHttpClient cannot turn certificate checks off. Run Deno with --unsafely-ignore-certificate-errors=<host> instead (and leave verify unset), or pass verify: <CA bundle path or PEM> to trust your CA.',
    )
  }
  if (httpProxyUrl === undefined && typeof verify !== 'string' && clientCert === undefined) {
    return globalThis.fetch
  }
  const runtime = denoNamespace()
  const options: Parameters<DenoNamespace['createHttpClient']>[0] = {}
  const readText = (path: string): string => runtime.readTextFileSync(path)
  const readHint = ' (Deno needs --allow-read for it)'
  if (typeof verify === 'string') options.caCerts = [readCaBundle(verify, readText, readHint)]
  // Mutual TLS (RFC 8705): the client certificate and key for every connection of this client.
  if (clientCert !== undefined) Object.assign(options, readClientCert(clientCert, readText, readHint))
  if (httpProxyUrl !== undefined) {
    const proxy = parseProxyUrl(httpProxyUrl)
    options.proxy = { url: proxy.origin }
    // Basic Proxy-Authorization (RFC 9110 §11.7.2), as requests sends for credentials in the proxy URL.
    if (proxy.credentials !== undefined) options.proxy.basicAuth = proxy.credentials
  }
  const client = runtime.createHttpClient(options)
  // Deno's fetch takes the client as a non-standard init member.
  return (input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, client } as RequestInit)
}

/**
 * The Deno fetch adapter: the seed's `http_proxy_url` and `verify` on `Deno.createHttpClient`.
 * `httpProxyUrl` (http:// or https://, `http://user:pass@host:port` sends Basic Proxy-Authorization) becomes the
 * client's `proxy`; `verify: '<path or PEM text>'` adds that CA bundle to the trusted roots (`caCerts`; a path
 * needs `--allow-read`); `clientCert: { cert, key }` (PEM text or paths) is the client certificate for mutual TLS
 * (RFC 8705). Deno cannot turn certificate checks off per client, so `verify: false` throws a
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
export const denoAdapter: FetchAdapter = fetchPerSetting(createFetch)
