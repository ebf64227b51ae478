/**
 * Deno runs the same built bundle: `deno test` (the `deno` npm package) on tests/deno/*.test.ts, which import
 * dist/index.js and dist/deno.js, against servers started here in Node: the oidc-provider fixture (with a
 * private_key_jwt client), an HTTPS token endpoint with a throwaway CA, one that demands a client certificate
 * (mutual TLS), a forward proxy that needs credentials, and a control endpoint through which the Deno side
 * approves its device code and reports what it measured.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from '@playwright/test'
import { startProcess } from './fixtures/child-process.ts'
import { closeAfterEach } from './fixtures/closed-after-test.ts'
import { denoBinary as deno, denoEnv, denoOfflineFlags } from './fixtures/deno.ts'
import { startOidcProvider } from './fixtures/oidc.ts'
import { startProxy } from './fixtures/proxy.ts'
import { createClientCertificate, createTestCa, startHttpsTokenServer } from './fixtures/tls.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const closedAfterTest = closeAfterEach(test)

/** POST /approve {userCode} and POST /report {name, value}, for the Deno side. */
async function startControl(approve: (userCode: string) => Promise<void>) {
  const reports = new Map<string, string>()
  const approved: string[] = []
  const server = http.createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    try {
      const json = JSON.parse(body) as { userCode?: string; name?: string; value?: string }
      if (req.method === 'POST' && req.url === '/approve' && typeof json.userCode === 'string') {
        await approve(json.userCode)
        approved.push(json.userCode)
      } else if (req.method === 'POST' && req.url === '/report' && typeof json.name === 'string') {
        reports.set(json.name, String(json.value))
      } else {
        res.writeHead(404).end()
        return
      }
      res.writeHead(204).end()
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reports,
    approved,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

test('Deno runs the same dist bundle: grants, device flow, authenticator, denoAdapter with a custom CA and a proxy', async () => {
  test.setTimeout(180_000)
  // A private_key_jwt client (RFC 7523) whose private JWK the Deno side signs with, on Deno's Web Crypto.
  const clientKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const op = closedAfterTest(
    await startOidcProvider({
      deviceInterval: 1,
      extraClients: [
        {
          client_id: 'deno-key-client',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [clientKey.publicKey.export({ format: 'jwk' })] },
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          scope: 'api:read',
        },
      ],
    }),
  )
  const ca = closedAfterTest(await createTestCa())
  const https = closedAfterTest(await startHttpsTokenServer(ca))
  // Mutual TLS (RFC 8705): an endpoint that demands a client certificate from the test CA.
  const clientCert = closedAfterTest(await createClientCertificate('deno-client'))
  const mtls = closedAfterTest(await startHttpsTokenServer(ca, { requireClientCertFrom: ca.caPem }))
  const proxy = closedAfterTest(
    await startProxy({ credentials: { username: 'deno', password: 'pr0xy pass' } }),
  )
  const control = closedAfterTest(await startControl((userCode) => op.approve(userCode)))
  const denoDir = await mkdtemp(join(tmpdir(), 'token-client-deno-'))
  closedAfterTest({ close: () => rm(denoDir, { recursive: true, force: true }) })

  // Deno would route its global fetch through proxies: the servers here are all on 127.0.0.1.
  const env = denoEnv(denoDir, {
    TC_ISSUER: op.issuer,
    TC_TOKEN_ENDPOINT: op.tokenEndpoint,
    TC_DEVICE_ENDPOINT: op.deviceAuthorizationEndpoint,
    TC_DEVICE_CLIENT_ID: op.deviceClient.clientId,
    TC_CONFIDENTIAL_CLIENT_ID: op.confidentialClient.clientId,
    TC_CONFIDENTIAL_SECRET: op.confidentialClient.clientSecret,
    TC_HTTPS_TOKEN_ENDPOINT: https.tokenEndpoint,
    TC_CA_PATH: ca.caPath,
    TC_PROXY_URL: proxy.urlWithCredentials,
    TC_CONTROL_URL: control.url,
    TC_MTLS_TOKEN_ENDPOINT: mtls.tokenEndpoint,
    TC_CLIENT_CERT_PATH: clientCert.certPath,
    TC_CLIENT_KEY_PATH: clientCert.keyPath,
    TC_KEY_CLIENT_ID: 'deno-key-client',
    TC_KEY_CLIENT_JWK: JSON.stringify(clientKey.privateKey.export({ format: 'jwk' })),
  })
  const args = [
    'test',
    ...denoOfflineFlags,
    '--allow-net=127.0.0.1',
    '--allow-read',
    '--allow-env',
    'tests/deno/',
  ]
  const { code, output } = await test.step('deno test tests/deno/', async () => {
    const result = await closedAfterTest(startProcess(deno, args, { cwd: root, env })).exited
    return { code: result.code, output: `${result.stdout}${result.stderr}` }
  })
  await test.info().attach('deno test output', { body: output, contentType: 'text/plain' })
  expect(output, output).toMatch(/^ok \| 15 passed \| 0 failed/m)
  expect(code, output).toBe(0)

  await test.step('Deno imported the same dist/index.js as Node', async () => {
    const bundle = new URL('../dist/index.js', import.meta.url)
    const nodeHash = createHash('sha256')
      .update(await readFile(bundle))
      .digest('hex')
    expect(control.reports.get('bundlePath')).toBe(fileURLToPath(bundle))
    expect(control.reports.get('bundleSha256')).toBe(nodeHash)
  })

  await test.step('the device code was approved after Deno started polling', () => {
    expect(control.approved).toHaveLength(1)
  })

  await test.step('the proxy carried one forwarded request and one CONNECT, with credentials', () => {
    expect(proxy.requests()).toBe(1)
    expect(proxy.connects()).toBe(1)
    expect(proxy.carried().map(({ kind, target }) => ({ kind, target }))).toEqual([
      { kind: 'request', target: op.tokenEndpoint },
      { kind: 'connect', target: new URL(https.url).host },
    ])
    expect(proxy.carried().every((c) => c.withProxyAuthorization && c.authorized)).toBe(true)
  })

  await test.step('mutual TLS: the endpoint saw the client certificate twice, and a handshake without it', () => {
    expect(mtls.clientSubjects()).toEqual([clientCert.subject, clientCert.subject])
    expect(mtls.tlsClientErrors()).toBeGreaterThanOrEqual(1)
  })

  await test.step('the DPoP-bound token Deno got is bound to the key it reported (cnf.jkt)', async () => {
    const accessToken = control.reports.get('dpopAccessToken') ?? ''
    const stored = await op.provider.ClientCredentials.find(accessToken)
    expect(stored?.clientId).toBe('deno-key-client')
    expect(stored?.jkt).toBe(control.reports.get('dpopJkt'))
  })

  await test.step('the HTTPS endpoint answered only the requests that trusted its CA', () => {
    // path + PEM + through the proxy; the untrusted attempts never got past the handshake.
    expect(https.tokenRequests()).toBe(3)
  })
})
