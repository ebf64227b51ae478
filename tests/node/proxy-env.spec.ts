/**
 * `proxyForUrl` (token-client/node): the proxy for a URL from HTTPS_PROXY / http_proxy / ALL_PROXY / NO_PROXY,
 * read the way curl reads them, table-driven; then for real: a request through the real forward proxy chosen by
 * it (CONNECT to a real HTTPS token endpoint), and NO_PROXY sending the same request around the proxy.
 */
import { expect, test } from '@playwright/test'
import { getToken } from 'token-client'
import { nodeAdapter, proxyForUrl } from 'token-client/node'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { startProxy } from '../fixtures/proxy.ts'
import { createTestCa, startHttpsTokenServer } from '../fixtures/tls.ts'

const closedAfterTest = closeAfterEach(test)
const P = 'http://proxy.example:3128'
const Q = 'http://other-proxy.example:8080'

test.describe('proxyForUrl: which variable', () => {
  const cases: Array<
    [what: string, url: string, env: Record<string, string | undefined>, expected?: string]
  > = [
    ['nothing set: direct', 'https://idp.example/token', {}],
    ['HTTPS_PROXY for https', 'https://idp.example/token', { HTTPS_PROXY: P }, P],
    ['https_proxy for https', 'https://idp.example/token', { https_proxy: P }, P],
    ['lower case wins over upper case', 'https://idp.example', { https_proxy: P, HTTPS_PROXY: Q }, P],
    ['HTTPS_PROXY is not for http', 'http://idp.example/token', { HTTPS_PROXY: P }],
    ['http_proxy for http', 'http://idp.example/token', { http_proxy: P }, P],
    ['http_proxy is not for https', 'https://idp.example/token', { http_proxy: P }],
    // httpoxy (CVE-2016-5385): a CGI server turns a request's `Proxy:` header into HTTP_PROXY.
    ['upper-case HTTP_PROXY is ignored (as curl)', 'http://idp.example/token', { HTTP_PROXY: P }],
    ['ALL_PROXY as the fallback, https', 'https://idp.example', { ALL_PROXY: P }, P],
    ['ALL_PROXY as the fallback, http', 'http://idp.example', { ALL_PROXY: P }, P],
    ['all_proxy wins over ALL_PROXY', 'https://idp.example', { all_proxy: P, ALL_PROXY: Q }, P],
    ['the scheme variable wins over ALL_PROXY', 'https://idp.example', { HTTPS_PROXY: P, ALL_PROXY: Q }, P],
    [
      'ALL_PROXY still applies when only HTTP_PROXY is set',
      'http://idp.example',
      { HTTP_PROXY: Q, ALL_PROXY: P },
      P,
    ],
    ['an empty value counts as unset', 'https://idp.example', { https_proxy: '', HTTPS_PROXY: P }, P],
    ['empty everywhere: direct', 'https://idp.example', { HTTPS_PROXY: '', ALL_PROXY: ' ' }],
    ['undefined values are unset', 'https://idp.example', { https_proxy: undefined, HTTPS_PROXY: P }, P],
    ['no scheme means http://', 'https://idp.example', { HTTPS_PROXY: 'proxy.example:3128' }, P],
    [
      'an https:// proxy is kept',
      'https://idp.example',
      { HTTPS_PROXY: 'https://p.example' },
      'https://p.example',
    ],
    [
      'credentials are kept (for Proxy-Authorization)',
      'https://idp.example',
      { HTTPS_PROXY: 'http://u:p%40ss@proxy.example:3128' },
      'http://u:p%40ss@proxy.example:3128',
    ],
    ['a URL object', 'https://idp.example', { HTTPS_PROXY: P }, P],
  ]
  for (const [what, url, env, expected] of cases) {
    test(what, () => {
      expect(proxyForUrl(what === 'a URL object' ? new URL(url) : url, env)).toBe(expected)
    })
  }

  test('a URL that is not absolute http(s) is a TypeError', () => {
    for (const url of ['idp.example/token', '/token', 'ftp://idp.example/', 'file:///etc/passwd']) {
      expect(() => proxyForUrl(url, { ALL_PROXY: P })).toThrow(TypeError)
    }
  })
})

test.describe('proxyForUrl: NO_PROXY', () => {
  // [NO_PROXY, URL, bypassed?]
  const cases: Array<[noProxy: string, url: string, bypassed: boolean]> = [
    ['*', 'https://anything.example', true],
    [' * ', 'https://anything.example', true],
    ['idp.example', 'https://idp.example/token', true],
    ['idp.example', 'https://login.idp.example/token', true],
    ['idp.example', 'https://notidp.example/token', false],
    ['idp.example', 'https://idp.example.com/token', false],
    ['.idp.example', 'https://idp.example/token', true],
    ['.idp.example', 'https://a.b.idp.example/token', true],
    ['IDP.Example', 'https://idp.example/', true],
    ['idp.example', 'https://IDP.EXAMPLE/', true],
    ['idp.example.', 'https://idp.example/', true],
    ['idp.example', 'https://idp.example./', true],
    ['example', 'https://idp.example/', true],
    ['xample', 'https://idp.example/', false],
    ['other.example,idp.example', 'https://idp.example/', true],
    ['other.example, idp.example', 'https://idp.example/', true],
    ['other.example idp.example', 'https://idp.example/', true],
    ['other.example,,\tidp.example,', 'https://idp.example/', true],
    ['other.example', 'https://idp.example/', false],
    // `*` only as the whole value, as curl.
    ['*,other.example', 'https://idp.example/', false],
    ['*.idp.example', 'https://login.idp.example/', false],
    // Ports: curl never matches an entry with a port; here it bypasses that port only.
    ['idp.example:8443', 'https://idp.example:8443/', true],
    ['idp.example:8443', 'https://idp.example/', false],
    ['idp.example:443', 'https://idp.example/', true],
    ['idp.example:80', 'http://idp.example/', true],
    ['idp.example:80', 'https://idp.example/', false],
    // IP literals: the address only, no suffix matching; CIDR ranges.
    ['127.0.0.1', 'http://127.0.0.1:8080/', true],
    ['127.0.0.1:8080', 'http://127.0.0.1:8080/', true],
    ['127.0.0.1:9090', 'http://127.0.0.1:8080/', false],
    ['0.0.1', 'http://127.0.0.1/', false],
    ['127.0.0.2', 'http://127.0.0.1/', false],
    ['10.0.0.0/8', 'https://10.20.30.40/', true],
    ['10.0.0.0/8', 'https://11.0.0.1/', false],
    ['192.168.1.0/24', 'https://192.168.1.77/', true],
    ['192.168.1.0/24', 'https://192.168.2.77/', false],
    ['0.0.0.0/0', 'https://8.8.8.8/', true],
    ['10.0.0.0/33', 'https://10.0.0.0/', false],
    ['10.0.0.0/x', 'https://10.0.0.0/', false],
    ['::1', 'http://[::1]:8080/', true],
    ['[::1]', 'http://[::1]:8080/', true],
    ['[::1]:8080', 'http://[::1]:8080/', true],
    ['[::1]:9090', 'http://[::1]:8080/', false],
    ['0:0:0:0:0:0:0:1', 'http://[::1]/', true],
    ['::2', 'http://[::1]/', false],
    ['fd00::/8', 'https://[fd12:3456::1]/', true],
    ['fd00::/8', 'https://[fe80::1]/', false],
    ['::1', 'http://127.0.0.1/', false],
    ['127.0.0.1', 'http://[::1]/', false],
    // A host name entry never matches an IP literal, and the other way round.
    ['0.1', 'http://127.0.0.1/', false],
    ['127.0.0.1', 'http://localhost/', false],
    // Loopback is not bypassed implicitly (nor by curl): only when listed.
    ['idp.example', 'http://localhost:8080/', false],
    ['idp.example', 'http://127.0.0.1:8080/', false],
    ['localhost', 'http://localhost:8080/', true],
    ['localhost,127.0.0.1,::1', 'http://[::1]/', true],
  ]
  for (const [noProxy, url, isBypassed] of cases) {
    test(`NO_PROXY=${JSON.stringify(noProxy)}: ${url} ${isBypassed ? 'direct' : 'proxied'}`, () => {
      const env = { HTTPS_PROXY: P, http_proxy: P, NO_PROXY: noProxy }
      expect(proxyForUrl(url, env)).toBe(isBypassed ? undefined : P)
    })
  }

  test('no_proxy wins over NO_PROXY; an empty no_proxy counts as unset', () => {
    const url = 'https://idp.example/'
    expect(proxyForUrl(url, { HTTPS_PROXY: P, no_proxy: 'other.example', NO_PROXY: 'idp.example' })).toBe(P)
    expect(proxyForUrl(url, { HTTPS_PROXY: P, no_proxy: 'idp.example', NO_PROXY: 'other.example' })).toBe(
      undefined,
    )
    expect(proxyForUrl(url, { HTTPS_PROXY: P, no_proxy: '', NO_PROXY: 'idp.example' })).toBe(undefined)
  })

  test('NO_PROXY applies to ALL_PROXY too', () => {
    expect(proxyForUrl('https://idp.example/', { ALL_PROXY: P, NO_PROXY: 'idp.example' })).toBe(undefined)
  })
})

test('a real request goes through the proxy HTTPS_PROXY names, and around it when NO_PROXY lists the host', async () => {
  const ca = closedAfterTest(await createTestCa())
  const server = closedAfterTest(await startHttpsTokenServer(ca))
  const proxy = closedAfterTest(await startProxy())
  const request = (env: Record<string, string>) => {
    const httpProxyUrl = proxyForUrl(server.tokenEndpoint, env)
    return getToken(server.tokenEndpoint, {
      clientId: 'client',
      adapter: nodeAdapter,
      verify: ca.caPem,
      ...(httpProxyUrl === undefined ? {} : { httpProxyUrl }),
    })
  }

  const proxied = await request({ HTTPS_PROXY: proxy.url })
  expect(proxied.accessToken).toBe('tls-token')
  expect(proxy.carried()).toMatchObject([{ kind: 'connect', target: new URL(server.url).host }])
  expect(server.tokenRequests()).toBe(1)

  // Loopback is not bypassed by itself: it has to be listed.
  const direct = await request({ HTTPS_PROXY: proxy.url, NO_PROXY: 'idp.example, 127.0.0.1' })
  expect(direct.accessToken).toBe('tls-token')
  expect(server.tokenRequests()).toBe(2)
  expect(proxy.carried()).toHaveLength(1)
})
