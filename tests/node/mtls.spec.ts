/**
 * Mutual TLS (RFC 8705) at the adapter level, through nodeAdapter (undici Agent `connect: { cert, key }`):
 * - an HTTPS token endpoint that demands a client certificate from the test CA in the handshake
 *   (tests/fixtures/tls.ts): with `clientCert` (file paths, or PEM text) the token comes back and the server saw
 *   the certificate's subject, one connection pool per setting; without it the handshake fails with an
 *   AuthenticationError that says a client certificate is needed;
 * - oidc-provider over https with mTLS on (tests/fixtures/oidc.ts `tls`): `tls_client_auth` (§2.1) authenticates
 *   the client by its certificate, and the access token is certificate-bound (§3: `cnf.x5t#S256` = the SHA-256
 *   of the certificate's DER); without the certificate: invalid_client;
 * - misconfiguration (no adapter, unreadable or wrong files) is a TypeError that names the option and never
 *   shows the key.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { expect, test } from '@playwright/test'
import { generate } from 'selfsigned'
import { AuthenticationError, getToken } from 'token-client'
import { nodeAdapter } from 'token-client/node'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { authError, failOnUnhandledRejections } from '../fixtures/hostile.ts'
import { startOidcProvider } from '../fixtures/oidc.ts'
import { createClientCertificate, createTestCa, startHttpsTokenServer } from '../fixtures/tls.ts'

failOnUnhandledRejections(test)
const closedAfterTest = closeAfterEach(test)

test('a token endpoint that demands a client certificate: with it the token, without it a clear handshake failure', async () => {
  const ca = closedAfterTest(await createTestCa())
  const client = closedAfterTest(await createClientCertificate())
  const server = closedAfterTest(await startHttpsTokenServer(ca, { requireClientCertFrom: ca.caPem }))
  const byPath = {
    adapter: nodeAdapter,
    verify: ca.caPath,
    clientCert: { cert: client.certPath, key: client.keyPath },
  }

  const token = await getToken(server.tokenEndpoint, byPath)
  expect(token.accessToken).toBe('tls-token')
  // undici frees a connection a macrotask after the body ends; a request sent in the same tick opens another.
  await new Promise((resolve) => setImmediate(resolve))
  await getToken(server.tokenEndpoint, byPath)
  // One dispatcher per setting: the second request reuses the first connection.
  expect(server.connections()).toBe(1)
  // PEM text works as well as paths.
  await getToken(server.tokenEndpoint, {
    adapter: nodeAdapter,
    verify: ca.caPem,
    clientCert: { cert: client.cert, key: client.key },
  })
  expect(server.clientSubjects()).toEqual([client.subject, client.subject, client.subject])

  const err = await authError(getToken(server.tokenEndpoint, { adapter: nodeAdapter, verify: ca.caPath }))
  expect(err).toBeInstanceOf(AuthenticationError)
  expect(err.message).toMatch(/client certificate/)
  expect(err.message).toMatch(/pass one it trusts in clientCert/)

  // A certificate the server does not trust (self-signed, not from its CA): the same hint.
  const stranger = await generate([{ name: 'commonName', value: 'stranger' }], {
    keySize: 2048,
    algorithm: 'sha256',
  })
  const refused = await authError(
    getToken(server.tokenEndpoint, {
      adapter: nodeAdapter,
      verify: ca.caPath,
      clientCert: { cert: stranger.cert, key: stranger.private },
    }),
  )
  expect(refused.message).toMatch(
    /demands a client certificate \(mutual TLS\), pass one it trusts in clientCert/,
  )
  expect(JSON.stringify(refused) + refused.message).not.toContain(stranger.private.split('\n')[1] ?? '')
  expect(server.tokenRequests()).toBe(3)
})

test('oidc-provider with mTLS: tls_client_auth authenticates by certificate; the token is certificate-bound', async () => {
  const ca = closedAfterTest(await createTestCa())
  const client = closedAfterTest(await createClientCertificate('mtls-client'))
  const op = closedAfterTest(
    await startOidcProvider({
      tls: { key: ca.key, cert: ca.cert, clientCa: ca.caPem },
      extraClients: [
        {
          client_id: 'mtls-client',
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_auth_subject_dn: client.subject,
          tls_client_certificate_bound_access_tokens: true,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          scope: 'api:read',
        },
      ],
    }),
  )
  expect(op.tokenEndpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//)
  const transport = { adapter: nodeAdapter, verify: ca.caPath }
  const token = await getToken(op.tokenEndpoint, {
    ...transport,
    clientId: 'mtls-client',
    clientCert: { cert: client.certPath, key: client.keyPath },
    scopes: ['api:read'],
  })
  expect(token.tokenType).toBe('Bearer')
  const stored = await op.provider.ClientCredentials.find(token.accessToken)
  expect(stored?.clientId).toBe('mtls-client')
  const der = new X509Certificate(client.cert).raw
  expect(stored?.['x5t#S256']).toBe(createHash('sha256').update(der).digest('base64url'))

  // The provider asks for a certificate but does not demand one in the handshake: without it, invalid_client.
  const err = await authError(getToken(op.tokenEndpoint, { ...transport, clientId: 'mtls-client' }))
  expect(err).toMatchObject({ status: 401, error: 'invalid_client' })
})

test('clientCert misconfiguration is a TypeError naming the option, never the key', async () => {
  const client = closedAfterTest(await createClientCertificate())
  const keyBody = client.key.split('\n')[1] ?? ''
  const endpoint = 'https://127.0.0.1:9/token'
  await expect(getToken(endpoint, { clientCert: { cert: client.cert, key: client.key } })).rejects.toThrow(
    "clientCert needs a fetch adapter: import { nodeAdapter } from 'token-client/node' and pass { adapter: nodeAdapter }.",
  )
  const missing = getToken(endpoint, {
    adapter: nodeAdapter,
    clientCert: { cert: '/nonexistent/client.pem', key: client.keyPath },
  })
  await expect(missing).rejects.toThrow(TypeError)
  await expect(missing).rejects.toThrow(/clientCert\.cert: cannot read \/nonexistent\/client\.pem/)
  // The key where the certificate belongs, and the other way round: named, not shown.
  for (const clientCert of [
    { cert: client.keyPath, key: client.keyPath },
    { cert: client.cert, key: client.certPath },
    { cert: client.cert, key: 'not a key' },
  ]) {
    const err = await getToken(endpoint, { adapter: nodeAdapter, clientCert }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TypeError)
    expect(String((err as Error).message)).toMatch(/^clientCert\.(cert|key)/)
    expect(String((err as Error).message)).not.toContain(keyBody)
  }
})
