import { readFileSync } from 'node:fs'
// Types only: undici is an optional peer dependency, imported at run time on the first request (so that
// `fileStore` works without it).
import type { Dispatcher, ProxyAgent } from 'undici'
import type { FetchAdapter } from '../protocol/transport.ts'
import {
  type AdapterSettings,
  fetchPerSetting,
  parseProxyUrl,
  readCaBundle,
  readClientCert,
} from './adapter-settings.ts'

type Undici = typeof import('undici')

const undiciMissing = 'nodeAdapter needs the undici package: npm install undici'

let undiciInstalled: boolean | undefined

/**
 * Throws a `TypeError` now, when undici cannot be found, rather than from the first request, where the
 * failure would read as an unreachable server. `import.meta.resolve` only resolves the path (no loading).
 */
function checkUndiciInstalled(): void {
  if (undiciInstalled === undefined) {
    try {
      // A bundler without import.meta.resolve: the import on the first request reports it instead.
      if (typeof import.meta.resolve === 'function') import.meta.resolve('undici')
      undiciInstalled = true
    } catch {
      undiciInstalled = false
    }
  }
  if (!undiciInstalled) throw new TypeError(undiciMissing)
}

let undiciLoading: Promise<Undici> | undefined

/** undici, imported once, on the first request of any setting. */
function loadUndici(): Promise<Undici> {
  undiciLoading ??= import('undici').catch((err: unknown) => {
    throw new TypeError(undiciMissing, { cause: err })
  })
  return undiciLoading
}

/** TLS options for undici's connector: `verify` applies to every TLS connection, the proxy's included. */
function tlsOptions(verify: boolean | string | undefined): { rejectUnauthorized?: boolean; ca?: string } {
  if (verify === false) return { rejectUnauthorized: false }
  if (typeof verify === 'string') return { ca: readCaBundle(verify, (path) => readFileSync(path, 'utf8')) }
  return {}
}

/**
 * Checks a setting now (a bad proxy URL or CA file is a `TypeError` from the adapter call, before any request)
 * and returns how to build its dispatcher once undici is loaded.
 */
function dispatcherFactory({
  httpProxyUrl,
  verify,
  clientCert,
}: AdapterSettings): (undici: Undici) => Dispatcher {
  const tls = tlsOptions(verify)
  // RFC 8705: the client certificate goes to the server only, never to the proxy.
  const serverTls =
    clientCert === undefined
      ? tls
      : { ...tls, ...readClientCert(clientCert, (path) => readFileSync(path, 'utf8')) }
  if (httpProxyUrl === undefined) return ({ Agent }) => new Agent({ connect: serverTls })
  const proxy = parseProxyUrl(httpProxyUrl)
  const options: ProxyAgent.Options = { uri: proxy.origin, requestTls: serverTls, proxyTls: tls }
  if (proxy.credentials !== undefined) {
    // Basic Proxy-Authorization (RFC 9110 §11.7.2), as requests sends for credentials in the proxy URL.
    const { username, password } = proxy.credentials
    options.token = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
  }
  return ({ ProxyAgent }) => new ProxyAgent(options)
}

function createFetch(settings: AdapterSettings): typeof fetch {
  checkUndiciInstalled()
  const buildDispatcher = dispatcherFactory(settings)
  // undici and this setting's one dispatcher (its connection pool), ready after the first request.
  let loading: Promise<{ undiciFetch: Undici['fetch']; dispatcher: Dispatcher }> | undefined
  let loaded: { undiciFetch: Undici['fetch']; dispatcher: Dispatcher } | undefined
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    if (loaded === undefined) {
      loading ??= loadUndici().then((undici) => ({
        undiciFetch: undici.fetch,
        dispatcher: buildDispatcher(undici),
      }))
      loaded = await loading
    }
    const { undiciFetch, dispatcher } = loaded
    // ky hands us a global Request; npm undici's fetch does not recognise a Request of Node's built-in undici
    // (it would stringify it), so everything it carries is passed explicitly.
    // A string body given alongside (the core passes its form so) is sent as is: no stream to build and drain
    // (bench/: ~15% of a loopback request).
    const direct = typeof init?.body === 'string' ? init.body : undefined
    // The core's path: the Request says where and how, init adds only the body and the signal. They are read
    // where they are, not from a second Request built to read them back (bench/: ~5% of a loopback request).
    const asIs =
      direct !== undefined &&
      input instanceof Request &&
      init?.method === undefined &&
      init?.headers === undefined &&
      init?.redirect === undefined
    const request = asIs
      ? input
      : new Request(input, direct === undefined ? init : { ...init, body: undefined })
    const body = direct ?? (request.body === null ? null : await request.arrayBuffer())
    // As the Request constructor does: a signal in init replaces the Request's.
    const signal = asIs && init?.signal !== undefined ? init.signal : request.signal
    const response = await undiciFetch(request.url, {
      method: request.method,
      headers: [...request.headers],
      body,
      signal,
      redirect: request.redirect,
      dispatcher,
    })
    return response as unknown as Response
  }
}

/**
 * The Node fetch adapter: the seed's `http_proxy_url` and `verify`, and mutual TLS, on npm `undici` (an
 * optional peer dependency: `npm install undici`). `httpProxyUrl` goes through undici's `ProxyAgent` (http:// and https://
 * proxies; `http://user:pass@host:port` sends Basic Proxy-Authorization; https:// targets are tunnelled with
 * CONNECT). `verify: false` turns certificate checks off; `verify: '<path or PEM text>'` trusts that CA
 * bundle instead of the system roots (for the target and an https:// proxy alike). `clientCert: { cert, key }`
 * (PEM text or file paths) is presented to the server (not to a proxy) for mutual TLS (RFC 8705).
 *
 * Each distinct setting gets one dispatcher, created on first use and reused (keep-alive); the adapter returns
 * the same `fetch` for the same setting. Idle connections do not keep the process alive. undici itself is
 * imported on the first request; calling the adapter without undici installed throws a `TypeError` saying
 * `npm install undici` (importing `token-client/node`, e.g. for `fileStore`, does not need it).
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
 * // Mutual TLS (RFC 8705 §2, tls_client_auth): the certificate authenticates the client.
 * await getToken(mtlsTokenEndpoint, { clientId, adapter: nodeAdapter, clientCert: { cert: 'client.pem', key: 'client-key.pem' } })
 * ```
 */
export const nodeAdapter: FetchAdapter = fetchPerSetting(createFetch)
