/**
 * The proxy for a URL from the usual environment variables, read the way curl reads them. Pure: the caller
 * hands in the environment (nothing is read behind its back), and only web APIs are used.
 */

/** Reads a variable, lower case first; an empty value counts as unset (as curl's `curl_getenv`). */
function read(env: Readonly<Record<string, string | undefined>>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim()
    if (value !== undefined && value !== '') return value
  }
  return undefined
}

/** An IP literal's 32 or 128 bits, or `undefined` for a host name or something malformed. */
function ipBits(text: string): { family: 4 | 6; bits: bigint } | undefined {
  // The URL parser does the strict parsing (and IPv6's `::` and embedded IPv4 forms); hex/octal IPv4 forms it
  // would also accept are excluded first, as inet_pton excludes them.
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number)
    if (parts.some((part) => part > 255)) return undefined
    return { family: 4, bits: parts.reduce((acc, part) => (acc << 8n) | BigInt(part), 0n) }
  }
  if (!text.includes(':')) return undefined
  const host = URL.parse(`http://[${text}]/`)?.hostname
  if (host === undefined) return undefined
  // The serialization is canonical: at most one `::`, hex groups only.
  const [head = '', tail] = host.slice(1, -1).split('::')
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'))
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return { family: 6, bits: all.reduce((acc, group) => (acc << 16n) | BigInt(`0x${group}`), 0n) }
}

/** Whether `ip` is in `network` (an address, or an address/prefix length as curl ≥ 7.86 takes). */
function ipMatches(ip: { family: 4 | 6; bits: bigint }, network: string): boolean {
  const [address = '', prefix] = network.split('/')
  const net = ipBits(address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address)
  if (net === undefined || net.family !== ip.family) return false
  const width = ip.family === 4 ? 32 : 128
  if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return false
  const length = prefix === undefined ? width : Number(prefix)
  if (length > width) return false
  const shift = BigInt(width - length)
  return ip.bits >> shift === net.bits >> shift
}

/** One NO_PROXY entry taken apart: what to compare the host with, and a port when the entry names one. */
function splitEntry(entry: string): { pattern: string; port?: string } {
  // `[::1]:8080` or `[::1]`
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(entry)
  if (bracketed !== null) {
    const [, pattern = '', port] = bracketed
    return port === undefined ? { pattern } : { pattern, port }
  }
  // `host:port` or `1.2.3.4:port`; several colons is a bare IPv6 address (`::1`, `fd00::/8`).
  const hostPort = /^([^:]+):(\d+)$/.exec(entry)
  if (hostPort !== null) {
    const [, pattern = '', port = ''] = hostPort
    return { pattern, port }
  }
  return { pattern: entry }
}

/** Whether `noProxy` says to reach `url` directly: curl's rules (see {@link proxyForUrl}), plus ports. */
function bypassed(url: URL, noProxy: string): boolean {
  if (noProxy === '*') return true
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port
  // The URL parser lower-cases host names and writes IPv6 in brackets.
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const ip = ipBits(hostname)
  const name = hostname.replace(/\.$/, '')
  for (const entry of noProxy.split(/[\s,]+/)) {
    if (entry === '') continue
    const { pattern, port: entryPort } = splitEntry(entry)
    if (entryPort !== undefined && entryPort !== port) continue
    if (ip !== undefined) {
      // An IP literal matches IP entries only (no suffix matching on "127.0.0.1").
      if (ipMatches(ip, pattern)) return true
      continue
    }
    // `example.com` and `.example.com` both match example.com and its subdomains, never `notexample.com`.
    const domain = pattern.toLowerCase().replace(/\.$/, '').replace(/^\./, '')
    if (domain !== '' && (name === domain || name.endsWith(`.${domain}`))) return true
  }
  return false
}

/**
 * The proxy for a request to `url` according to the environment `env`, read the way curl reads it, or
 * `undefined` for a direct connection. Hand the result to `httpProxyUrl` (with an adapter such as
 * `nodeAdapter`). Nothing is read from `process.env` behind your back: pass the environment you mean.
 *
 * - https:// URLs use `https_proxy`, else `HTTPS_PROXY`; http:// URLs use `http_proxy` only. Upper-case
 *   `HTTP_PROXY` is ignored, as curl ignores it: in CGI-style servers it can be set by a request's `Proxy:`
 *   header (httpoxy, CVE-2016-5385). Then `all_proxy`, else `ALL_PROXY`. Lower case wins when both are set; an
 *   empty value counts as unset. A value without a scheme (`proxy:3128`) means `http://proxy:3128`.
 * - `no_proxy` (else `NO_PROXY`) lists hosts to reach directly, separated by commas (or white space: curl stops
 *   at the first space not followed by a comma, this reads on): `*` alone
 *   bypasses every host; `example.com` or `.example.com` matches that host and its subdomains (never
 *   `notexample.com`), case-insensitively, trailing dots ignored; IP literals (`10.1.2.3`, `::1`, `[::1]`)
 *   match that address only, and `10.0.0.0/8` or `fd00::/8` a range (as curl ≥ 7.86). Unlike curl, which never
 *   matches an entry with a port, `host:port` (`[::1]:8080`) bypasses the proxy for that port only.
 * - Loopback is not bypassed implicitly (curl does not either): list `localhost,127.0.0.1,::1` for that.
 *
 * @param url - The URL the request goes to (http:// or https://).
 * @param env - The environment to read, e.g. `process.env`; required so that reading it is your decision.
 * @returns The proxy URL (credentials kept, for Proxy-Authorization), or `undefined`: no proxy.
 * @throws `TypeError` when `url` is not an absolute http:// or https:// URL.
 *
 * @example
 * ```ts
 * import { getToken } from 'token-client'
 * import { nodeAdapter, proxyForUrl } from 'token-client/node'
 *
 * const tokenEndpoint = 'https://idp.example/oauth2/token'
 * const httpProxyUrl = proxyForUrl(tokenEndpoint, process.env) // e.g. from HTTPS_PROXY, unless in NO_PROXY
 * await getToken(tokenEndpoint, { clientId, adapter: nodeAdapter, ...(httpProxyUrl ? { httpProxyUrl } : {}) })
 * ```
 */
export function proxyForUrl(
  url: string | URL,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const target = URL.parse(url)
  if (target === null || (target.protocol !== 'http:' && target.protocol !== 'https:')) {
    throw new TypeError('proxyForUrl: the URL must be an absolute http:// or https:// URL.')
  }
  const proxy =
    (target.protocol === 'https:' ? read(env, 'https_proxy', 'HTTPS_PROXY') : read(env, 'http_proxy')) ??
    read(env, 'all_proxy', 'ALL_PROXY')
  if (proxy === undefined) return undefined
  const noProxy = read(env, 'no_proxy', 'NO_PROXY')
  if (noProxy !== undefined && bypassed(target, noProxy)) return undefined
  // curl's default scheme for a proxy is http://.
  return /^[a-z][a-z\d+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`
}
