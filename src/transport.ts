import type { KyInstance } from 'ky'

/**
 * Turns the seed's `http_proxy_url` and `verify` into a `fetch`. Import one for your runtime:
 * `nodeAdapter` from `token-client/node` or `denoAdapter` from `token-client/deno`.
 *
 * An adapter is called for every request with the same settings, so it should cache what it builds
 * (connection pools) per distinct setting.
 *
 * @example
 * ```ts
 * import { nodeAdapter } from 'token-client/node'
 * await getToken(tokenEndpoint, { authorizationHeader, adapter: nodeAdapter, httpProxyUrl: 'http://proxy:3128' })
 * ```
 */
export type FetchAdapter = (transport: { httpProxyUrl?: string; verify?: boolean | string }) => typeof fetch

/**
 * How requests are sent. Every option is optional; with none, the runtime's global `fetch` is used.
 *
 * @example
 * ```ts
 * const controller = new AbortController()
 * await getToken(tokenEndpoint, { authorizationHeader, signal: controller.signal, timeout: 10_000 })
 * ```
 */
export interface TransportOptions {
  /** Proxy for the requests (the seed's `http_proxy_url`). Needs an {@link FetchAdapter}. */
  httpProxyUrl?: string
  /**
   * TLS verification (the seed's `verify`): `true` (default) checks certificates against the system roots,
   * `false` turns checking off, a string is a CA bundle (PEM text or a file path). Anything but `true` needs an
   * {@link FetchAdapter}.
   */
  verify?: boolean | string
  /**
   * A ky instance to send requests with (the seed's `session`): its hooks, headers, retry settings and `fetch`
   * apply. It must not set `prefixUrl`.
   */
  session?: KyInstance
  /** Turns `httpProxyUrl`/`verify` into a `fetch`: `nodeAdapter` (`token-client/node`) or `denoAdapter` (`token-client/deno`). */
  adapter?: FetchAdapter
  /** Aborts the request, or the whole polling loop, at once; the promise rejects with the signal's reason. */
  signal?: AbortSignal
  /** Milliseconds each HTTP request may take, response body included. Default 30000. */
  timeout?: number
  /**
   * Allow `http://` endpoints on hosts other than loopback. Off by default: the requests carry client secrets,
   * device codes and tokens, which must not cross a network in clear text (RFC 6749 §3.2, RFC 8628 §3.1).
   */
  allowInsecureHttp?: boolean
}

/** The runtime we run in, for error messages that name the right adapter. */
function detectRuntime(): 'node' | 'deno' | 'bun' | 'browser' | 'unknown' {
  const g = globalThis as {
    Deno?: unknown
    Bun?: unknown
    document?: unknown
    navigator?: { userAgent?: string }
  }
  if (g.Deno !== undefined) return 'deno'
  if (g.Bun !== undefined) return 'bun'
  const ua = g.navigator?.userAgent ?? ''
  if (ua.startsWith('Node.js')) return 'node'
  if (g.document !== undefined || ua.startsWith('Mozilla/')) return 'browser'
  return 'unknown'
}

function missingAdapterMessage(option: string): string {
  const runtime = detectRuntime()
  switch (runtime) {
    case 'node':
      return `${option} needs a fetch adapter: import { nodeAdapter } from 'token-client/node' and pass { adapter: nodeAdapter }.`
    case 'deno':
      return `${option} needs a fetch adapter: import { denoAdapter } from 'token-client/deno' and pass { adapter: denoAdapter }.`
    case 'browser':
      return `${option} cannot be set in a browser: the browser manages proxies and trusted certificates itself. Remove the option (configure the proxy or CA in the browser or operating system).`
    default:
      return `${option} needs a fetch adapter: pass { adapter } (nodeAdapter from 'token-client/node', denoAdapter from 'token-client/deno', or your own FetchAdapter).`
  }
}

/**
 * Picks the `fetch` for a request: the adapter's when one is given, otherwise `undefined` (ky's, i.e. the
 * session's or the global one). Proxy and TLS settings are never silently ignored.
 */
export function resolveFetch(options: TransportOptions): typeof fetch | undefined {
  const { httpProxyUrl, verify, adapter } = options
  if (adapter !== undefined) {
    const transport: { httpProxyUrl?: string; verify?: boolean | string } = {}
    if (httpProxyUrl !== undefined) transport.httpProxyUrl = httpProxyUrl
    if (verify !== undefined) transport.verify = verify
    return adapter(transport)
  }
  if (httpProxyUrl !== undefined) throw new TypeError(missingAdapterMessage('httpProxyUrl'))
  if (verify !== undefined && verify !== true) throw new TypeError(missingAdapterMessage('verify'))
  return undefined
}

const loopbackHosts = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** Whether a URL hostname is loopback (`localhost`, 127.0.0.0/8, `[::1]`): plain http never leaves the machine there. */
export function isLoopbackHost(hostname: string): boolean {
  return loopbackHosts.test(hostname)
}

/**
 * Parses an endpoint and applies the transport security rule: `https:`, or `http:` only on loopback
 * (`localhost`, 127.0.0.0/8, `[::1]`) unless `allowInsecureHttp` is set.
 */
export function checkEndpoint(endpoint: string | URL, what: string, allowInsecureHttp = false): URL {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    // Not echoed: an unparsable URL may still hold a password.
    throw new TypeError(`The ${what} is not an absolute URL.`)
  }
  // Credentials in the URL would be sent nowhere useful (fetch refuses them) and end up in error messages.
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(
      `The ${what} (${url.origin}) must not carry a user name or password: pass client credentials with authorizationHeader.`,
    )
  }
  if (url.protocol === 'https:') return url
  if (url.protocol !== 'http:') {
    throw new TypeError(`The ${what} must be an https:// URL, got ${url.protocol}//${url.host}.`)
  }
  if (!allowInsecureHttp && !isLoopbackHost(url.hostname)) {
    throw new TypeError(
      `Refusing to send credentials to ${url.origin} over plain http: use an https:// ${what}, or pass { allowInsecureHttp: true } if this network is trusted.`,
    )
  }
  return url
}
