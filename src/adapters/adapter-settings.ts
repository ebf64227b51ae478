import type { ClientCertificate, FetchAdapter } from '../protocol/transport.ts'

/**
 * What a {@link FetchAdapter} is called with: the seed's `http_proxy_url` and `verify`, and the mutual-TLS
 * `clientCert`.
 *
 * @example
 * ```ts
 * const settings: AdapterSettings = { httpProxyUrl: 'http://proxy:3128', verify: '/etc/ssl/corp-ca.pem' }
 * ```
 */
export type AdapterSettings = Parameters<FetchAdapter>[0]

/**
 * A proxy URL taken apart: where to connect, and the credentials it carried, decoded.
 *
 * @example
 * ```ts
 * const { origin, credentials }: ProxySetting = parseProxyUrl(httpProxyUrl)
 * ```
 */
export interface ProxySetting {
  /** `http://host:port` or `https://host:port`, without credentials, path or query. */
  origin: string
  /** The user name and password of the URL, for Basic Proxy-Authorization (RFC 9110 §11.7.2). */
  credentials?: { username: string; password: string }
}

/**
 * Checks and takes apart `httpProxyUrl`. Messages never repeat the URL: it may carry a password.
 *
 * @throws `TypeError` for anything but an absolute http:// or https:// URL.
 *
 * @example
 * ```ts
 * parseProxyUrl('http://user:p%40ss@proxy:3128')
 * // { origin: 'http://proxy:3128', credentials: { username: 'user', password: 'p@ss' } }
 * ```
 */
export function parseProxyUrl(httpProxyUrl: string): ProxySetting {
  let proxy: URL
  try {
    proxy = new URL(httpProxyUrl)
  } catch {
    throw new TypeError(
      'httpProxyUrl is not an absolute URL (expected http://host:port or https://host:port).',
    )
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new TypeError(`httpProxyUrl must be an http:// or https:// proxy URL, got ${proxy.protocol}//.`)
  }
  const setting: ProxySetting = { origin: proxy.origin }
  if (proxy.username !== '' || proxy.password !== '') {
    // A URL keeps them percent-encoded (a password with "@" or ":" can only be written so): decoded, as requests does.
    try {
      setting.credentials = {
        username: decodeURIComponent(proxy.username),
        password: decodeURIComponent(proxy.password),
      }
    } catch {
      throw new TypeError('httpProxyUrl: the user name or password is not valid percent-encoding.')
    }
  }
  return setting
}

/**
 * The CA bundle for `verify`: PEM text as is, anything else is a file path (like requests' `verify=path`).
 *
 * @param readText - Reads a file as UTF-8 text (the runtime's own API).
 * @param readHint - Added to the message when the file cannot be read (e.g. a permission flag to pass).
 * @throws `TypeError` naming `verify` when the file cannot be read or holds no certificate.
 *
 * @example
 * ```ts
 * const ca = readCaBundle('/etc/ssl/corp-ca.pem', (path) => readFileSync(path, 'utf8'))
 * ```
 */
export function readCaBundle(verify: string, readText: (path: string) => string, readHint = ''): string {
  if (verify.includes('-----BEGIN')) return verify
  let text: string
  try {
    text = readText(verify)
  } catch (err) {
    throw new TypeError(
      `verify: cannot read the CA bundle file ${verify}${readHint}: ${(err as Error).message}`,
      { cause: err },
    )
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TypeError(`verify: ${verify} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`)
  }
  return text
}

/** Reads one PEM item of `clientCert`: PEM text as is, anything else a file path. */
function readPem(
  value: unknown,
  name: 'cert' | 'key',
  marker: RegExp,
  readText: (path: string) => string,
  readHint: string,
): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`clientCert.${name} must be PEM text or a file path.`)
  }
  let text = value
  if (!value.includes('-----BEGIN')) {
    try {
      text = readText(value)
    } catch (err) {
      throw new TypeError(`clientCert.${name}: cannot read ${value}${readHint}: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }
  // Never echoed: the key is a secret, and a file holding something else may be one too.
  if (!marker.test(text)) {
    throw new TypeError(
      `clientCert.${name}${text === value ? '' : ` (${value})`} holds no PEM ${
        name === 'cert'
          ? 'certificate (-----BEGIN CERTIFICATE-----)'
          : 'private key (-----BEGIN PRIVATE KEY-----)'
      }.`,
    )
  }
  return text
}

/**
 * The client certificate and key of `clientCert` (mutual TLS, RFC 8705) as PEM text: each is PEM text as is,
 * anything else a file path, read with `readText`.
 *
 * @throws `TypeError` naming `clientCert.cert` or `clientCert.key` when a file cannot be read or holds no PEM
 *   certificate / private key (the key's content is never echoed).
 *
 * @example
 * ```ts
 * const { cert, key } = readClientCert({ cert: 'client.pem', key: 'client-key.pem' }, (path) => readFileSync(path, 'utf8'))
 * ```
 */
export function readClientCert(
  clientCert: ClientCertificate,
  readText: (path: string) => string,
  readHint = '',
): ClientCertificate {
  if (typeof clientCert !== 'object' || clientCert === null) {
    throw new TypeError('clientCert must be { cert, key }: PEM text or file paths.')
  }
  return {
    cert: readPem(clientCert.cert, 'cert', /-----BEGIN CERTIFICATE-----/, readText, readHint),
    key: readPem(clientCert.key, 'key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/, readText, readHint),
  }
}

/**
 * Builds a {@link FetchAdapter} that creates one `fetch` (one connection pool, with keep-alive) per distinct
 * setting, on first use, and hands it out for the life of the process: the core calls the adapter for every
 * request. A setting that fails to build (bad proxy URL, unreadable CA) is not remembered.
 *
 * @example
 * ```ts
 * export const myAdapter: FetchAdapter = fetchPerSetting((settings) => createPooledFetch(settings))
 * ```
 */
export function fetchPerSetting(create: (settings: AdapterSettings) => typeof fetch): FetchAdapter {
  const fetches = new Map<string, typeof fetch>()
  return (settings) => {
    // The client certificate by its paths or PEM text: the map lives in memory only, and is never printed.
    const key = JSON.stringify([
      settings.httpProxyUrl ?? null,
      settings.verify ?? true,
      settings.clientCert?.cert ?? null,
      settings.clientCert?.key ?? null,
    ])
    let fetchFn = fetches.get(key)
    if (fetchFn === undefined) {
      fetchFn = create(settings)
      fetches.set(key, fetchFn)
    }
    return fetchFn
  }
}
