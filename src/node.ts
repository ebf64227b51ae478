import { readFileSync } from 'node:fs'
import { Agent, type Dispatcher, ProxyAgent, fetch as undiciFetch } from 'undici'
import { type AdapterSettings, fetchPerSetting, parseProxyUrl, readCaBundle } from './adapter-settings.ts'
import type { FetchAdapter } from './transport.ts'

export { fileStore } from './file-store.ts'
export type { FetchAdapter } from './transport.ts'

/** TLS options for undici's connector: `verify` applies to every TLS connection, the proxy's included. */
function tlsOptions(verify: boolean | string | undefined): { rejectUnauthorized?: boolean; ca?: string } {
  if (verify === false) return { rejectUnauthorized: false }
  if (typeof verify === 'string') return { ca: readCaBundle(verify, (path) => readFileSync(path, 'utf8')) }
  return {}
}

function createDispatcher({ httpProxyUrl, verify }: AdapterSettings): Dispatcher {
  const tls = tlsOptions(verify)
  if (httpProxyUrl === undefined) return new Agent({ connect: tls })
  const proxy = parseProxyUrl(httpProxyUrl)
  const options: ProxyAgent.Options = { uri: proxy.origin, requestTls: tls, proxyTls: tls }
  if (proxy.credentials !== undefined) {
    // Basic Proxy-Authorization (RFC 9110 §11.7.2), as requests sends for credentials in the proxy URL.
    const { username, password } = proxy.credentials
    options.token = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
  }
  return new ProxyAgent(options)
}

function createFetch(dispatcher: Dispatcher): typeof fetch {
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // ky hands us a global Request; npm undici's fetch does not recognise a Request of Node's built-in undici
    // (it would stringify it), so everything it carries is passed explicitly.
    // A string body given alongside (the core passes its form so) is sent as is: no stream to build and drain
    // (bench/: ~15% of a loopback request).
    const direct = typeof init?.body === 'string' ? init.body : undefined
    const request = new Request(input, direct === undefined ? init : { ...init, body: undefined })
    const body = direct ?? (request.body === null ? null : await request.arrayBuffer())
    const response = await undiciFetch(request.url, {
      method: request.method,
      headers: [...request.headers],
      body,
      signal: request.signal,
      redirect: request.redirect,
      dispatcher,
    })
    return response as unknown as Response
  }
}

/**
 * The Node fetch adapter: the seed's `http_proxy_url` and `verify` on npm `undici` (an optional peer
 * dependency: `npm install undici`). `httpProxyUrl` goes through undici's `ProxyAgent` (http:// and https://
 * proxies; `http://user:pass@host:port` sends Basic Proxy-Authorization; https:// targets are tunnelled with
 * CONNECT). `verify: false` turns certificate checks off; `verify: '<path or PEM text>'` trusts that CA
 * bundle instead of the system roots (for the target and an https:// proxy alike).
 *
 * Each distinct setting gets one dispatcher, created on first use and reused (keep-alive); the adapter returns
 * the same `fetch` for the same setting. Idle connections do not keep the process alive.
 *
 * @example
 * ```ts
 * import { getBasicAuthorizationHeader, getToken } from 'token-client'
 * import { nodeAdapter } from 'token-client/node'
 *
 * const token = await getToken('https://idp.internal/oauth2/token', {
 *   authorizationHeader: getBasicAuthorizationHeader(clientId, clientSecret),
 *   adapter: nodeAdapter,
 *   httpProxyUrl: 'http://user:pass@proxy.internal:3128',
 *   verify: '/etc/ssl/corp-ca.pem',
 * })
 * ```
 */
export const nodeAdapter: FetchAdapter = fetchPerSetting((settings) =>
  createFetch(createDispatcher(settings)),
)
