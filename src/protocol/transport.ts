import type { KyInstance } from 'ky'

/**
 * Turns the seed's `http_proxy_url` and `verify` into a `fetch`. Import one for your runtime:
 * `nodeAdapter` from `token-client/node` or `denoAdapter` from `token-client/deno`.
 *
 * An adapter is called for every request with the same settings, so it should cache what it builds
 * (connection pools) per distinct setting.
 *
 * The `fetch` it returns must honour `init`: it may be called with a `Request` that has no body (method,
 * headers and `redirect: 'manual'` are in the `Request`) and the body and the abort signal in `init` only
 * (the request path hands them to fetch directly, bypassing a copy of the body stream). A fetch that reads only
 * the `Request` would send the form POSTs without their body and ignore the timeout. Passing both on to the
 * runtime's `fetch(input, init)` does it.
 *
 * @example
 * ```ts
 * import { nodeAdapter } from 'token-client/node'
 * await getToken(tokenEndpoint, { authorizationHeader, adapter: nodeAdapter, httpProxyUrl: 'http://proxy:3128' })
 * ```
 */
export type FetchAdapter = (transport: {
  httpProxyUrl?: string
  verify?: boolean | string
  clientCert?: ClientCertificate
}) => typeof fetch

/**
 * A TLS client certificate for mutual TLS (RFC 8705): client authentication by `tls_client_auth` /
 * `self_signed_tls_client_auth` (§2), and certificate-bound tokens (§3). Each is PEM text or a file path.
 *
 * @example
 * ```ts
 * const clientCert: ClientCertificate = { cert: '/etc/svc/client.pem', key: '/etc/svc/client-key.pem' }
 * await getToken(tokenEndpoint, { clientId: 'svc', clientCert, adapter: nodeAdapter })
 * ```
 */
export interface ClientCertificate {
  /** The certificate (chain), PEM text (`-----BEGIN CERTIFICATE-----`) or a file path. */
  cert: string
  /** Its private key, unencrypted PEM text (`-----BEGIN PRIVATE KEY-----`) or a file path. */
  key: string
}

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
   * The TLS client certificate to present (mutual TLS, RFC 8705), for servers that authenticate clients or bind
   * tokens by certificate. Needs an {@link FetchAdapter}: in a browser the browser manages client certificates.
   */
  clientCert?: ClientCertificate
  /**
   * A ky instance to send requests with (the seed's `session`): its hooks, headers, retry settings, `timeout`
   * and `fetch` apply (with ours: the shorter timeout wins). Its `prefix` and `baseUrl` do not: the endpoint
   * is always an absolute URL.
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

/** Why `option` cannot be honoured without an adapter, naming the adapter of the runtime we run in. */
function missingAdapterMessage(option: string): string {
  const g = globalThis as { Deno?: unknown; document?: unknown; navigator?: { userAgent?: string } }
  const ua = g.navigator?.userAgent ?? ''
  const runtime = g.Deno !== undefined ? 'deno' : ua.startsWith('Node.js') ? 'node' : undefined
  if (runtime === undefined && (g.document !== undefined || ua.startsWith('Mozilla/'))) {
    return `${option} cannot be set in a browser: the browser manages proxies and ${option === 'clientCert' ? 'client ' : ''}certificates itself. Remove the option (set them in the browser or OS).`
  }
  return `${option} needs a fetch adapter: ${
    runtime === undefined
      ? "pass { adapter } (nodeAdapter from 'token-client/node', denoAdapter from 'token-client/deno', or your own)."
      : `import { ${runtime}Adapter } from 'token-client/${runtime}' and pass { adapter: ${runtime}Adapter }.`
  }`
}

const adapterSettings = ['httpProxyUrl', 'verify', 'clientCert'] as const

/**
 * Picks the `fetch` for a request: the adapter's when one is given, otherwise `undefined` (ky's, i.e. the
 * session's or the global one). Proxy and TLS settings are never silently ignored.
 */
export function resolveFetch(options: TransportOptions): typeof fetch | undefined {
  const { adapter } = options
  if (adapter !== undefined) {
    // Only the settings given: an adapter caches per setting, and exactOptionalPropertyTypes callers check keys.
    const transport: Record<string, unknown> = {}
    for (const key of adapterSettings) if (options[key] !== undefined) transport[key] = options[key]
    return adapter(transport)
  }
  // The first setting given that only an adapter can honour (`verify: true` is the default, so no setting).
  const option = adapterSettings.find((key) => options[key] !== undefined && options[key] !== true)
  if (option) throw new TypeError(missingAdapterMessage(option))
  return undefined
}

const loopbackHosts = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** Whether a URL hostname is loopback (`localhost`, 127.0.0.0/8, `[::1]`): plain http never leaves the machine there. */
export function isLoopbackHost(hostname: string): boolean {
  return loopbackHosts.test(hostname)
}

/** How a message tells the caller to fix an endpoint: the library names its options, the CLI its flags. */
export interface EndpointRemedies {
  /** Where credentials go instead of the URL. */
  credentials: string
  /** How to allow plain http to a remote host. */
  insecureHttp: string
}

const libraryRemedies: EndpointRemedies = {
  credentials: 'client credentials go in authorizationHeader',
  insecureHttp: '{ allowInsecureHttp: true }',
}

/**
 * Parses an endpoint and applies the transport security rule: `https:`, or `http:` only on loopback
 * (`localhost`, 127.0.0.0/8, `[::1]`) unless `allowInsecureHttp` is set.
 */
export function checkEndpoint(
  endpoint: string | URL,
  what: string,
  allowInsecureHttp = false,
  remedies: EndpointRemedies = libraryRemedies,
): URL {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    // Not echoed: an unparsable URL may still hold a password.
    throw new TypeError(`The ${what} is not an absolute URL.`)
  }
  // Credentials in the URL would be sent nowhere useful (fetch refuses them) and end up in error messages.
  if (url.username || url.password) {
    throw new TypeError(
      `The ${what} (${url.origin}) must not carry a user name or password: remove them (${remedies.credentials}).`,
    )
  }
  const { protocol } = url
  if (
    protocol !== 'https:' &&
    (protocol !== 'http:' || !(allowInsecureHttp || isLoopbackHost(url.hostname)))
  ) {
    throw new TypeError(
      `The ${what} must be an https:// URL, not ${protocol}//${url.host}: credentials go over plain http only to loopback, or with ${remedies.insecureHttp} on a trusted network.`,
    )
  }
  return url
}
