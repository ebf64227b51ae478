/**
 * Client authentication with a key (RFC 7523 §2.2, OpenID Connect Core §9) against oidc-provider configured for
 * each method: private_key_jwt with RS256, PS256, ES256 (a PEM key through importPrivateKeyPem) and EdDSA keys,
 * and client_secret_jwt; on client credentials, the authorization code grant and its refresh, and revocation. A
 * wrong key is `invalid_client`, and no key, secret or assertion appears in the error, its JSON or its causes.
 */
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto'
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  buildAuthorizationUrl,
  ClientCredentialsAuthenticator,
  clientAssertionType,
  clientAuthOptions,
  createClientAssertion,
  createPkce,
  GrantType,
  getToken,
  importPrivateKeyPem,
  parseAuthorizationResponse,
  revokeToken,
} from 'token-client'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { authError, failOnUnhandledRejections } from '../fixtures/hostile.ts'
import { authorizeInteractively, type OidcFixture, startOidcProvider } from '../fixtures/oidc.ts'

failOnUnhandledRejections(test)
const closedAfterTest = closeAfterEach(test)

const redirectUri = 'http://127.0.0.1/callback'
const scope = 'openid offline_access api:read'

/** A registered key: the private JWK (what the client holds), the public one (what the server has), PEM. */
interface TestKey {
  kid: string
  privateJwk: JsonWebKey
  publicJwk: JsonWebKey & { kid: string }
  pem: string
}

function testKey(type: 'rsa' | 'ec' | 'ed25519'): TestKey {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519')
  const kid = randomBytes(6).toString('hex')
  const jwk = (key: KeyObject): JsonWebKey => key.export({ format: 'jwk' }) as JsonWebKey
  return {
    kid,
    privateJwk: jwk(pair.privateKey),
    publicJwk: { ...jwk(pair.publicKey), kid },
    pem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  }
}

const keys = { rsa: testKey('rsa'), ec: testKey('ec'), ed: testKey('ed25519') }
const jwtSecret = `jwt-secret-${randomBytes(24).toString('base64url')}`

/** A confidential client for client credentials and the authorization code grant (for a refresh token). */
function client(clientId: string, auth: Record<string, unknown>): Record<string, unknown> {
  return {
    client_id: clientId,
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    scope,
    ...auth,
  }
}

async function provider(): Promise<OidcFixture> {
  return closedAfterTest(
    await startOidcProvider({
      extraClients: [
        client('pkjwt-rsa', {
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [keys.rsa.publicJwk] },
        }),
        client('pkjwt-ec', {
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [keys.ec.publicJwk] },
        }),
        client('pkjwt-ed', {
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [keys.ed.publicJwk] },
        }),
        client('csjwt', { token_endpoint_auth_method: 'client_secret_jwt', client_secret: jwtSecret }),
      ],
    }),
  )
}

/** Every text an error exposes: message, JSON, and each link of the cause chain (message and stack). */
function errorTexts(err: unknown): string {
  const parts: string[] = [JSON.stringify(err)]
  for (let current = err; current instanceof Error; current = current.cause) {
    parts.push(current.message, current.stack ?? '', JSON.stringify(current))
  }
  return parts.join('\n')
}

/** No key material, secret or JWT (an assertion or proof) in the error. */
function expectNothingSecret(err: unknown, ...secrets: string[]): void {
  const texts = errorTexts(err)
  for (const secret of secrets) expect(texts).not.toContain(secret)
  expect(texts).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/)
}

/** Signs in through the authorization code grant with the client's authentication: a token set with a refresh token. */
async function signIn(
  op: OidcFixture,
  clientId: string,
  auth: ReturnType<typeof clientAuthOptions>,
): Promise<Awaited<ReturnType<typeof getToken>>> {
  const pkce = await createPkce()
  const state = crypto.randomUUID()
  const url = buildAuthorizationUrl(`${op.issuer}/auth`, clientId, {
    redirectUri,
    codeChallenge: pkce.codeChallenge,
    state,
    scopes: scope.split(' '),
    prompt: 'consent',
  })
  const { code } = parseAuthorizationResponse(await authorizeInteractively(url), { state, issuer: op.issuer })
  return getToken(op.tokenEndpoint, {
    ...auth,
    grantType: GrantType.AUTHORIZATION_CODE,
    code,
    redirectUri,
    codeVerifier: pkce.codeVerifier,
  })
}

const methods = [
  {
    name: 'private_key_jwt RS256 (JWK)',
    clientId: 'pkjwt-rsa',
    auth: async (_op: OidcFixture) =>
      clientAuthOptions('private_key_jwt', 'pkjwt-rsa', keys.rsa.privateJwk, { keyId: keys.rsa.kid }),
  },
  {
    name: 'private_key_jwt PS256 (the RSA JWK, clientKeyAlg)',
    clientId: 'pkjwt-rsa',
    auth: async (_op: OidcFixture) =>
      clientAuthOptions('private_key_jwt', 'pkjwt-rsa', keys.rsa.privateJwk, { clientKeyAlg: 'PS256' }),
  },
  {
    name: 'private_key_jwt ES256 (PEM via importPrivateKeyPem, issuer as audience)',
    clientId: 'pkjwt-ec',
    auth: async (op: OidcFixture) => {
      const key = await importPrivateKeyPem(keys.ec.pem)
      expect(key).toMatchObject({ type: 'private', extractable: false, usages: ['sign'] })
      // The issuer as the audience (what drafts after RFC 7523 recommend): oidc-provider accepts it too.
      return clientAuthOptions('private_key_jwt', 'pkjwt-ec', key, {
        keyId: keys.ec.kid,
        assertionAudience: op.issuer,
      })
    },
  },
  {
    name: 'private_key_jwt EdDSA (Ed25519 JWK)',
    clientId: 'pkjwt-ed',
    auth: async (_op: OidcFixture) => clientAuthOptions('private_key_jwt', 'pkjwt-ed', keys.ed.privateJwk),
  },
  {
    name: 'client_secret_jwt HS256',
    clientId: 'csjwt',
    auth: async (_op: OidcFixture) => clientAuthOptions('client_secret_jwt', 'csjwt', jwtSecret),
  },
]

test.describe('JWT client authentication against oidc-provider', () => {
  for (const method of methods) {
    test(`${method.name}: client credentials, code grant, refresh, revocation`, async () => {
      const op = await provider()
      const auth = await method.auth(op)
      const first = await getToken(op.tokenEndpoint, { ...auth, scopes: ['api:read'] })
      // A fresh assertion for every request: oidc-provider refuses a jti it has seen.
      const second = await getToken(op.tokenEndpoint, { ...auth, scopes: ['api:read'] })
      for (const token of [first, second]) {
        expect(token.tokenType).toBe('Bearer')
        expect((await op.provider.ClientCredentials.find(token.accessToken))?.clientId).toBe(method.clientId)
      }

      const tokens = await signIn(op, method.clientId, auth)
      expect(tokens.refreshToken).toEqual(expect.any(String))
      const refreshed = await getToken(op.tokenEndpoint, {
        ...auth,
        grantType: GrantType.REFRESH_TOKEN,
        refreshToken: tokens.refreshToken ?? '',
      })
      expect((await op.provider.AccessToken.find(refreshed.accessToken))?.clientId).toBe(method.clientId)

      // Revocation authenticates the client the same way (the default audience is the revocation endpoint).
      await revokeToken(
        `${op.issuer}/token/revocation`,
        refreshed.refreshToken ?? tokens.refreshToken ?? '',
        {
          ...auth,
          tokenTypeHint: 'refresh_token',
        },
      )
      const err = await authError(
        getToken(op.tokenEndpoint, {
          ...auth,
          grantType: GrantType.REFRESH_TOKEN,
          refreshToken: refreshed.refreshToken ?? '',
        }),
      )
      expect(err.error).toBe('invalid_grant')
    })
  }

  test('a wrong key, a wrong secret, a replayed assertion: invalid_client, nothing secret in the error', async () => {
    const op = await provider()
    const stranger = testKey('ec')
    const wrongKey = await authError(
      getToken(
        op.tokenEndpoint,
        clientAuthOptions('private_key_jwt', 'pkjwt-ec', stranger.privateJwk, { keyId: keys.ec.kid }),
      ),
    )
    expect(wrongKey).toMatchObject({ status: 401, error: 'invalid_client' })
    expect(wrongKey).toBeInstanceOf(AuthenticationError)
    expectNothingSecret(wrongKey, stranger.privateJwk.d ?? '', keys.ec.privateJwk.d ?? '')

    const wrongSecret = `${jwtSecret}-not`
    const badSecret = await authError(
      getToken(op.tokenEndpoint, clientAuthOptions('client_secret_jwt', 'csjwt', wrongSecret)),
    )
    expect(badSecret).toMatchObject({ status: 401, error: 'invalid_client' })
    expectNothingSecret(badSecret, wrongSecret, jwtSecret)

    // A ready assertion is sent as is: the second use of its jti is refused, and the error does not hold it.
    const key = await importPrivateKeyPem(keys.ec.pem)
    const assertion = await createClientAssertion('pkjwt-ec', op.tokenEndpoint, key, { keyId: keys.ec.kid })
    await getToken(op.tokenEndpoint, { clientId: 'pkjwt-ec', clientAssertion: assertion })
    const replayed = await authError(
      getToken(op.tokenEndpoint, { clientId: 'pkjwt-ec', clientAssertion: assertion }),
    )
    expect(replayed).toMatchObject({ status: 401, error: 'invalid_client' })
    expectNothingSecret(replayed, assertion, assertion.split('.')[2] ?? '')

    // A wrong key at the revocation endpoint too.
    const revocation = await authError(
      revokeToken(
        `${op.issuer}/token/revocation`,
        'some-token-value',
        clientAuthOptions('private_key_jwt', 'pkjwt-rsa', testKey('rsa').privateJwk),
      ),
    )
    expect(revocation.error).toBe('invalid_client')
    expectNothingSecret(revocation)
  })
})

test('ClientCredentialsAuthenticator with clientKey: private_key_jwt from the issuer, renewal, sign-out by revocation', async () => {
  const op = await provider()
  const auth = new ClientCredentialsAuthenticator({
    issuer: op.issuer,
    clientId: 'pkjwt-ed',
    clientKey: keys.ed.privateJwk,
    keyId: keys.ed.kid,
    scopes: ['api:read'],
  })
  const first = await auth.getAccessToken()
  expect((await op.provider.ClientCredentials.find(first))?.clientId).toBe('pkjwt-ed')
  await auth.invalidate(first)
  const second = await auth.getAccessToken()
  expect(second).not.toBe(first)
  expect(await auth.signOut()).toEqual({ revoked: true })
  expect(await op.provider.ClientCredentials.find(second)).toBeUndefined()
  // Neither a secret nor a key: a TypeError at construction.
  expect(() => new ClientCredentialsAuthenticator({ issuer: op.issuer, clientId: 'svc' } as never)).toThrow(
    /clientSecret must be a non-empty string \(or pass clientKey/,
  )
})

test.describe('createClientAssertion and clientAuthOptions', () => {
  test('the assertion: header, claims (iss = sub = client id, aud, jti, iat, exp 60 s ahead)', async () => {
    const key = await importPrivateKeyPem(keys.ec.pem)
    const now = Date.UTC(2030, 0, 1)
    const jwt = await createClientAssertion('svc', 'https://idp.example/token', key, {
      keyId: 'k1',
      now: () => now,
    })
    const [header, payload] = jwt
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()))
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT', kid: 'k1' })
    expect(payload).toEqual({
      iss: 'svc',
      sub: 'svc',
      aud: 'https://idp.example/token',
      jti: expect.stringMatching(/^[\w-]{22}$/),
      iat: now / 1000,
      exp: now / 1000 + 60,
    })
    expect(clientAssertionType).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
  })

  test('misconfiguration is a TypeError that names the problem, never the key', async () => {
    const pem = keys.rsa.pem
    const body = pem.split('\n')[1] ?? ''
    // A secret where a key belongs, and the other way round.
    expect(() => clientAuthOptions('private_key_jwt', 'svc', 'a-secret')).toThrow(
      /CryptoKey or a private JWK/,
    )
    expect(() => clientAuthOptions('client_secret_jwt', 'svc', keys.rsa.privateJwk)).toThrow(/client secret/)
    // A public key cannot sign.
    const pub = await rejection(createClientAssertion('svc', 'https://idp', keys.rsa.publicJwk))
    expect(pub).toBeInstanceOf(TypeError)
    expect(String(pub)).toMatch(/public key/)
    // An alg the key cannot have.
    const mismatch = await rejection(
      createClientAssertion('svc', 'https://idp', keys.ec.privateJwk, { clientKeyAlg: 'RS256' }),
    )
    expect(mismatch).toBeInstanceOf(TypeError)
    expect(errorTexts(mismatch)).not.toContain(keys.ec.privateJwk.d ?? '')
    // PEM text must be imported first; PKCS#1 is named with its conversion.
    const asText = await rejection(createClientAssertion('svc', 'https://idp', pem))
    expect(String(asText)).toMatch(/importPrivateKeyPem/)
    const pkcs1 = await rejection(importPrivateKeyPem(pem.replace(/PRIVATE KEY/g, 'RSA PRIVATE KEY')))
    expect(String(pkcs1)).toMatch(/openssl pkcs8 -topk8/)
    expect(errorTexts(pkcs1)).not.toContain(body)
    // An RSA key imported for ES256 fails, without echoing it.
    const wrongType = await rejection(importPrivateKeyPem(pem, 'ES256'))
    expect(wrongType).toBeInstanceOf(TypeError)
    expect(errorTexts(wrongType)).not.toContain(body)
  })
})

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}
