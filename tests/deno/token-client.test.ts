/**
 * Deno side of tests/deno.spec.ts: the very dist/ files Node imports, run by Deno against servers that the
 * Node side started (URLs in TC_* environment variables). Plain Deno.test with manual asserts: no remote
 * imports, nothing to download.
 *
 * The Node side also runs a small control endpoint (TC_CONTROL_URL): POST /approve {userCode} approves a
 * pending device code in the oidc-provider fixture, POST /report {name, value} hands a measurement back.
 */

// @ts-types="../../dist/deno.d.ts"
import { denoAdapter } from '../../dist/deno.js'
// A local .js file carries no types for Deno; these are the .d.ts files `npm:token-client` would give.
// @ts-types="../../dist/index.d.ts"
import {
  AuthenticationError,
  buildAuthorizationUrl,
  ClientCredentialsAuthenticator,
  calculatePkceChallenge,
  clientAuthOptions,
  createDPoP,
  createPkce,
  DeviceCodeResponse,
  discover,
  type FetchAdapter,
  GrantType,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  parseAuthorizationResponse,
  pollTokenEndpoint,
} from '../../dist/index.js'

function env(name: string): string {
  const value = Deno.env.get(name)
  if (value === undefined || value === '')
    throw new Error(`${name} is not set: run this through tests/deno.spec.ts`)
  return value
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}

function assertEquals(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) {
    throw new Error(
      `assertion failed: ${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
    )
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection, got a resolution')
}

async function control(path: string, body: unknown): Promise<void> {
  const response = await fetch(new URL(path, env('TC_CONTROL_URL')), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  await response.body?.cancel()
  assertEquals(response.status, 204, `control ${path}`)
}

const deviceScopes = ['openid', 'offline_access', 'api:read']

// A cached Deno.HttpClient is a resource that lives on purpose (keep-alive): the leak sanitizers would flag it.
const adapterTest = { sanitizeResources: false, sanitizeOps: false }

Deno.test('reports the SHA-256 of the dist/index.js it imported', async () => {
  const bundle = new URL('../../dist/index.js', import.meta.url)
  assertEquals(import.meta.resolve('../../dist/index.js'), bundle.href, 'resolved bundle')
  const digest = await crypto.subtle.digest('SHA-256', await Deno.readFile(bundle))
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
  await control('/report', { name: 'bundleSha256', value: hex })
  await control('/report', { name: 'bundlePath', value: bundle.pathname })
})

Deno.test('seed vectors: getBasicAuthorizationHeader', () => {
  assertEquals(getBasicAuthorizationHeader('client_id', 'abc'), 'Basic Y2xpZW50X2lkOmFiYw==', 'simple')
  assertEquals(
    getBasicAuthorizationHeader('client_id', 'abc%%$?\\/\\/'),
    'Basic Y2xpZW50X2lkOmFiYyUyNSUyNSUyNCUzRiU1QyUyRiU1QyUyRg==',
    'escaped',
  )
})

Deno.test('PKCE (RFC 7636 Appendix B) and the authorization request and response, on Web Crypto', async () => {
  assertEquals(
    await calculatePkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    'appendix B',
  )
  const pkce = await createPkce()
  assert(/^[A-Za-z0-9_-]{43}$/.test(pkce.codeVerifier), 'verifier format')
  assertEquals(pkce.codeChallenge, await calculatePkceChallenge(pkce.codeVerifier), 'challenge')
  const url = buildAuthorizationUrl('https://idp.example/authorize', 'cli', {
    redirectUri: 'http://127.0.0.1:1/callback',
    codeChallenge: pkce.codeChallenge,
    state: 'deno-state',
  })
  assertEquals(url.searchParams.get('code_challenge_method'), 'S256', 'method')
  const callback = 'http://127.0.0.1:1/callback?code=abc123&state=deno-state'
  assertEquals(parseAuthorizationResponse(callback, { state: 'deno-state' }).code, 'abc123', 'code')
  try {
    parseAuthorizationResponse(callback, { state: 'other' })
    throw new Error('a forged state was accepted')
  } catch (err) {
    assert(err instanceof AuthenticationError && err.error === 'state_mismatch', 'state_mismatch')
  }
})

Deno.test('client credentials grant against oidc-provider', async () => {
  const token = await getToken(env('TC_TOKEN_ENDPOINT'), {
    authorizationHeader: getBasicAuthorizationHeader(
      env('TC_CONFIDENTIAL_CLIENT_ID'),
      env('TC_CONFIDENTIAL_SECRET'),
    ),
    scopes: ['api:read'],
  })
  assert(typeof token.accessToken === 'string' && token.accessToken.length > 10, 'an access token')
  assertEquals(token.scope, 'api:read', 'scope')
  assert(typeof token.expiresIn === 'number' && token.expiresIn > 0, 'expires_in')
  assertEquals(token.refreshToken, undefined, 'no refresh token')
})

Deno.test('full device flow (code, pending, approval, token) and a refresh-token grant', async () => {
  const clientId = env('TC_DEVICE_CLIENT_ID')
  const tokenEndpoint = env('TC_TOKEN_ENDPOINT')
  const resp = await getDeviceCode(env('TC_DEVICE_ENDPOINT'), clientId, { scope: deviceScopes })
  assert(resp instanceof DeviceCodeResponse, 'a DeviceCodeResponse')
  assert(/^[A-Z]{4}-[A-Z]{4}$/.test(resp.userCode), `user code ${resp.userCode}`)
  assert(resp.verificationUri.startsWith(env('TC_ISSUER')), 'verification_uri on the issuer')
  assertEquals(resp.interval, 1, 'interval')

  const pending: number[] = []
  let approval: Promise<void> | undefined
  const token = await pollTokenEndpoint(resp, tokenEndpoint, clientId, {
    onPending: ({ attempt }) => {
      pending.push(attempt)
      // The person approves only after the device has started polling.
      approval ??= control('/approve', { userCode: resp.userCode })
    },
  })
  await approval
  assert(pending.length >= 1, 'at least one authorization_pending answer')
  assert(token.accessToken.length > 10, 'an access token')
  assert(typeof token.refreshToken === 'string', 'a refresh token (offline_access)')
  assertEquals(token.scope, deviceScopes.join(' '), 'granted scope')

  const refreshed = await getToken(tokenEndpoint, {
    grantType: GrantType.REFRESH_TOKEN,
    refreshToken: token.refreshToken,
    clientId,
  })
  assert(refreshed.accessToken !== token.accessToken, 'a new access token')
  assert(typeof refreshed.refreshToken === 'string', 'a rotated refresh token')
})

Deno.test('ClientCredentialsAuthenticator from the issuer: discovery, then one request for 100 callers', async () => {
  const issuer = env('TC_ISSUER')
  const metadata = await discover(issuer)
  assertEquals(metadata.token_endpoint, env('TC_TOKEN_ENDPOINT'), 'discovered token endpoint')
  // A FetchAdapter that counts what it sends (the global fetch does the sending).
  const sent: string[] = []
  const counting: FetchAdapter = () => (input, init) => {
    const request = new Request(input, init)
    sent.push(`${request.method} ${new URL(request.url).pathname}`)
    return fetch(request)
  }
  const auth = new ClientCredentialsAuthenticator({
    issuer,
    clientId: env('TC_CONFIDENTIAL_CLIENT_ID'),
    clientSecret: env('TC_CONFIDENTIAL_SECRET'),
    scopes: ['api:read'],
    adapter: counting,
  })
  const tokens = await Promise.all(Array.from({ length: 100 }, () => auth.getAccessToken()))
  assertEquals(new Set(tokens).size, 1, 'distinct tokens')
  assertEquals(
    sent.join(', '),
    `GET /.well-known/oauth-authorization-server, POST ${new URL(env('TC_TOKEN_ENDPOINT')).pathname}`,
    'requests sent',
  )
})

Deno.test(
  'an unknown CA fails with an AuthenticationError that says it is a certificate problem',
  adapterTest,
  async () => {
    for (const options of [{}, { adapter: denoAdapter }]) {
      const error = await rejection(
        getToken(env('TC_HTTPS_TOKEN_ENDPOINT'), { clientId: 'client', ...options }),
      )
      assert(error instanceof AuthenticationError, `an AuthenticationError, got ${String(error)}`)
      assert(/certificate/i.test(error.message), `mentions the certificate: ${error.message}`)
    }
  },
)

Deno.test('denoAdapter with verify: CA file path and PEM text', adapterTest, async () => {
  const caPath = env('TC_CA_PATH')
  for (const verify of [caPath, Deno.readTextFileSync(caPath)]) {
    const token = await getToken(env('TC_HTTPS_TOKEN_ENDPOINT'), {
      clientId: 'client',
      adapter: denoAdapter,
      verify,
    })
    assertEquals(token.accessToken, 'tls-token', 'token over https')
    assertEquals(token.expiresIn, 300, 'expires_in')
  }
})

Deno.test(
  'denoAdapter through the proxy: http target forwarded, https target tunnelled',
  adapterTest,
  async () => {
    const httpProxyUrl = env('TC_PROXY_URL')
    const forwarded = await getToken(env('TC_TOKEN_ENDPOINT'), {
      authorizationHeader: getBasicAuthorizationHeader(
        env('TC_CONFIDENTIAL_CLIENT_ID'),
        env('TC_CONFIDENTIAL_SECRET'),
      ),
      scopes: ['api:read'],
      adapter: denoAdapter,
      httpProxyUrl,
    })
    assertEquals(forwarded.scope, 'api:read', 'token through the proxy')
    const tunnelled = await getToken(env('TC_HTTPS_TOKEN_ENDPOINT'), {
      clientId: 'client',
      adapter: denoAdapter,
      httpProxyUrl,
      verify: env('TC_CA_PATH'),
    })
    assertEquals(tunnelled.accessToken, 'tls-token', 'https token through the proxy')
  },
)

Deno.test('denoAdapter caches one client per setting', adapterTest, () => {
  const verify = Deno.readTextFileSync(env('TC_CA_PATH'))
  const first = denoAdapter({ verify })
  const again = denoAdapter({ verify })
  assert(first === again, 'same fetch for the same setting')
  assert(denoAdapter({}) === globalThis.fetch, 'the global fetch when nothing is set')
  assert(
    denoAdapter({ verify }) !== denoAdapter({ verify, httpProxyUrl: env('TC_PROXY_URL') }),
    'per setting',
  )
})

Deno.test('verify: false is a TypeError that names --unsafely-ignore-certificate-errors', async () => {
  const error = await rejection(
    getToken(env('TC_HTTPS_TOKEN_ENDPOINT'), { clientId: 'client', adapter: denoAdapter, verify: false }),
  )
  assert(error instanceof TypeError, `a TypeError, got ${String(error)}`)
  assert(error.message.includes('--unsafely-ignore-certificate-errors'), error.message)
})

Deno.test('httpProxyUrl without an adapter is a TypeError naming denoAdapter', async () => {
  const error = await rejection(
    getToken(env('TC_TOKEN_ENDPOINT'), { clientId: 'client', httpProxyUrl: env('TC_PROXY_URL') }),
  )
  assert(error instanceof TypeError, `a TypeError, got ${String(error)}`)
  assertEquals(
    error.message,
    "httpProxyUrl needs a fetch adapter: import { denoAdapter } from 'token-client/deno' and pass { adapter: denoAdapter }.",
    'message',
  )
})

Deno.test(
  'denoAdapter with clientCert: mutual TLS with the certificate as file paths and as PEM text',
  adapterTest,
  async () => {
    const cert = env('TC_CLIENT_CERT_PATH')
    const key = env('TC_CLIENT_KEY_PATH')
    for (const clientCert of [
      { cert, key },
      { cert: Deno.readTextFileSync(cert), key: Deno.readTextFileSync(key) },
    ]) {
      const token = await getToken(env('TC_MTLS_TOKEN_ENDPOINT'), {
        clientId: 'client',
        adapter: denoAdapter,
        verify: env('TC_CA_PATH'),
        clientCert,
      })
      assertEquals(token.accessToken, 'tls-token', 'token over mutual TLS')
    }
  },
)

Deno.test(
  'without the client certificate the handshake fails with an AuthenticationError saying so',
  adapterTest,
  async () => {
    const error = await rejection(
      getToken(env('TC_MTLS_TOKEN_ENDPOINT'), {
        clientId: 'client',
        adapter: denoAdapter,
        verify: env('TC_CA_PATH'),
      }),
    )
    assert(error instanceof AuthenticationError, `an AuthenticationError, got ${String(error)}`)
    assert(/client certificate/.test(error.message), `mentions the client certificate: ${error.message}`)
    assert(/clientCert/.test(error.message), `names clientCert: ${error.message}`)
  },
)

Deno.test('private_key_jwt and a DPoP-bound token on Deno Web Crypto', async () => {
  const jwk = JSON.parse(env('TC_KEY_CLIENT_JWK')) as JsonWebKey
  const dpop = await createDPoP()
  const token = await getToken(env('TC_TOKEN_ENDPOINT'), {
    ...clientAuthOptions('private_key_jwt', env('TC_KEY_CLIENT_ID'), jwk),
    scopes: ['api:read'],
    dpop,
  })
  assertEquals(token.tokenType, 'DPoP', 'token_type')
  await control('/report', { name: 'dpopAccessToken', value: token.accessToken })
  await control('/report', { name: 'dpopJkt', value: dpop.jkt })
})
