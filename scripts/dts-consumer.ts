/**
 * A consumer of the emitted types: `tsc -p tsconfig.dist.json` (part of `npm run typecheck`) resolves
 * `token-client`, `token-client/node` and `token-client/deno` through package.json `exports` to dist/*.d.ts,
 * as a user's project with `moduleResolution: NodeNext` would, without skipLibCheck. Broken or missing
 * emitted types fail the check. Never run: it only has to type-check.
 *
 * When you add a public export, use it here too: the `satisfies` lists below fail until every runtime export
 * of each entry point is named.
 */
import type * as core from 'token-client'
import {
  AuthenticationError,
  type AuthenticationErrorOptions,
  AuthenticationPending,
  Authenticator,
  type AuthorizationResponse,
  type AuthorizationServerMetadata,
  authorizationServerMetadataSchema,
  BrowserAuthenticator,
  type BrowserAuthenticatorOptions,
  type BuildAuthorizationUrlOptions,
  buildAuthorizationUrl,
  type ClientAssertion,
  type ClientAssertionOptions,
  type ClientAuthenticationFields,
  type ClientAuthMethod,
  type ClientAuthOptions,
  type ClientCertificate,
  ClientCredentialsAuthenticator,
  calculatePkceChallenge,
  clientAssertionType,
  clientAuthOptions,
  createClientAssertion,
  createDPoP,
  createPkce,
  DeviceCodeAuthenticator,
  type DeviceCodeInit,
  DeviceCodeResponse,
  type DPoPHandle,
  type DPoPOptions,
  discover,
  errorAuthPending,
  errorSlowDown,
  type FetchAdapter,
  type GetDeviceCodeOptions,
  type GetTokenOptions,
  GrantType,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  importPrivateKeyPem,
  indexedDbDPoP,
  type JwsAlgorithm,
  type LockOptions,
  memoryStore,
  type ParseAuthorizationResponseOptions,
  type Pkce,
  type PollTokenEndpointOptions,
  parseAuthorizationResponse,
  parseStoredToken,
  pollTokenEndpoint,
  type RedirectResult,
  type RevokeTokenOptions,
  revokeToken,
  type SignInOptions,
  type SignOutResult,
  type StoredToken,
  storedTokenSchema,
  type TokenResponse,
  type TokenStore,
  type TransportOptions,
  tokenResponseSchema,
  utf8,
  webStorageStore,
} from 'token-client'
import type * as deno from 'token-client/deno'
import { type FetchAdapter as DenoFetchAdapter, denoAdapter } from 'token-client/deno'
import type * as node from 'token-client/node'
import {
  type FileLockOptions,
  fileDPoP,
  fileStore,
  LoopbackAuthenticator,
  type LoopbackAuthenticatorOptions,
  type FetchAdapter as NodeFetchAdapter,
  nodeAdapter,
  proxyForUrl,
} from 'token-client/node'

/** Compile-time equality of two types. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function assertType<T extends true>(): T | undefined {
  return undefined
}

// Every runtime export of each entry point, no more, no less.
export const coreExports = {
  AuthenticationError,
  AuthenticationPending,
  DeviceCodeResponse,
  GrantType,
  errorAuthPending,
  errorSlowDown,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  pollTokenEndpoint,
  tokenResponseSchema,
  utf8,
  Authenticator,
  ClientCredentialsAuthenticator,
  DeviceCodeAuthenticator,
  authorizationServerMetadataSchema,
  discover,
  memoryStore,
  parseStoredToken,
  storedTokenSchema,
  webStorageStore,
  buildAuthorizationUrl,
  calculatePkceChallenge,
  createPkce,
  parseAuthorizationResponse,
  revokeToken,
  BrowserAuthenticator,
  clientAssertionType,
  clientAuthOptions,
  createClientAssertion,
  createDPoP,
  importPrivateKeyPem,
  indexedDbDPoP,
} satisfies Record<keyof typeof core, unknown>
export const nodeExports = {
  nodeAdapter,
  fileStore,
  fileDPoP,
  LoopbackAuthenticator,
  proxyForUrl,
} satisfies Record<keyof typeof node, unknown>
export const denoExports = { denoAdapter } satisfies Record<keyof typeof deno, unknown>

// Constants keep their literal types.
assertType<Equal<typeof utf8, 'utf-8'>>()
assertType<Equal<typeof errorAuthPending, 'authorization_pending'>>()
assertType<Equal<typeof errorSlowDown, 'slow_down'>>()
assertType<
  Equal<
    GrantType,
    | 'client_credentials'
    | 'urn:ietf:params:oauth:grant-type:device_code'
    | 'refresh_token'
    | 'authorization_code'
  >
>()
assertType<Equal<typeof GrantType.AUTHORIZATION_CODE, 'authorization_code'>>()
assertType<Equal<Pkce, { codeVerifier: string; codeChallenge: string; codeChallengeMethod: 'S256' }>>()
assertType<Equal<ReturnType<typeof createPkce>, Promise<Pkce>>>()
assertType<Equal<ReturnType<typeof calculatePkceChallenge>, Promise<string>>>()
assertType<Equal<ReturnType<typeof buildAuthorizationUrl>, URL>>()
assertType<Equal<ReturnType<typeof parseAuthorizationResponse>, AuthorizationResponse>>()
assertType<Equal<AuthorizationResponse, { code: string }>>()
assertType<Equal<ReturnType<typeof revokeToken>, Promise<void>>>()
assertType<Equal<RevokeTokenOptions['tokenTypeHint'], 'access_token' | 'refresh_token' | undefined>>()
assertType<
  Equal<AuthorizationServerMetadata['authorization_response_iss_parameter_supported'], boolean | undefined>
>()
assertType<Equal<AuthenticationPending['error'], 'authorization_pending' | 'slow_down'>>()
assertType<Equal<NodeFetchAdapter, FetchAdapter>>()
assertType<Equal<DenoFetchAdapter, FetchAdapter>>()
assertType<Equal<ReturnType<FetchAdapter>, typeof fetch>>()
assertType<Equal<TokenResponse['refreshToken'], string | undefined>>()
assertType<Equal<TokenResponse['raw'], Record<string, unknown>>>()

export async function consumer(signal: AbortSignal): Promise<string> {
  const authorizationHeader: string = getBasicAuthorizationHeader('client_id', 'abc')
  const transport: TransportOptions = { signal, timeout: 10_000, verify: true }

  const clientCredentials: GetTokenOptions = { ...transport, authorizationHeader, scopes: ['api:read'] }
  const token: TokenResponse = await getToken('https://idp.example/token', clientCredentials)
  const expiresIn: number | undefined = token.expiresIn

  const deviceOptions: GetDeviceCodeOptions = { scope: ['openid', 'offline_access'], audience: 'api' }
  const device: DeviceCodeResponse = await getDeviceCode(
    new URL('https://idp.example/device'),
    'cli',
    deviceOptions,
  )
  const shown: string = `${device.verificationUriComplete ?? device.verificationUri} ${device.userCode}`
  const interval: number = device.interval

  const init: DeviceCodeInit = {
    deviceCode: 'code',
    userCode: 'BNDJJFXL',
    verificationUri: 'url',
    expiresIn: 600,
  }
  const fromInit = new DeviceCodeResponse(init)
  const fromJson: DeviceCodeResponse = DeviceCodeResponse.fromJsonResponse({ device_code: 'code' } as unknown)

  const pollOptions: PollTokenEndpointOptions = {
    scopes: ['api:read'],
    adapter: nodeAdapter,
    onPending: ({ attempt, interval: seconds }: { attempt: number; interval: number }) => {
      void (attempt + seconds)
    },
  }
  const polled = await pollTokenEndpoint(fromInit, 'https://idp.example/token', 'cli', pollOptions)
  const refreshed = await getToken('https://idp.example/token', {
    grantType: GrantType.REFRESH_TOKEN,
    refreshToken: polled.refreshToken ?? '',
    clientId: 'cli',
    adapter: denoAdapter,
    httpProxyUrl: 'http://proxy:3128',
  })

  const custom: FetchAdapter = ({ httpProxyUrl, verify }) => {
    void [httpProxyUrl, verify]
    return fetch
  }
  const errorOptions: AuthenticationErrorOptions = {
    status: 400,
    error: 'invalid_grant',
    errorDescription: 'no',
  }
  const error = new AuthenticationError('refused', errorOptions)
  const status: number | undefined = error.status
  const code: string | undefined = error.error
  const json: { name: string; message: string } = error.toJSON()
  const pending = new AuthenticationPending(errorSlowDown)
  const grant: GrantType = GrantType.DEVICE_CODE
  const parsedKeys: string[] = Object.keys(tokenResponseSchema.entries)

  const metadata: AuthorizationServerMetadata = await discover('https://idp.example', { signal })
  const store: TokenStore = fileStore('/tmp/token.json')
  const proxied: string | undefined = proxyForUrl(new URL('https://idp.example/token'), { NO_PROXY: '*' })
  void proxyForUrl('https://idp.example/token', process.env)
  const service = new ClientCredentialsAuthenticator({
    tokenEndpoint: metadata.token_endpoint ?? '',
    clientId: 'svc',
    clientSecret: 'secret',
    clientAuth: 'post',
    store,
  })
  const user: Authenticator = new DeviceCodeAuthenticator({
    issuer: metadata.issuer,
    clientId: 'cli',
    store: webStorageStore(sessionStorage, 'key'),
    onDeviceCode: (code: DeviceCodeResponse) => void code.userCode,
  })
  const stored: StoredToken | undefined = parseStoredToken(await memoryStore().get())
  const served: Response = await service.fetch('https://api.example', { method: 'GET' })
  void [await user.getAccessToken(), stored?.expiresAt, served.status, Object.keys(storedTokenSchema.entries)]

  const pkce: Pkce = await createPkce()
  const challenge: string = await calculatePkceChallenge(pkce.codeVerifier)
  const authorizationOptions: BuildAuthorizationUrlOptions = {
    redirectUri: 'http://127.0.0.1:53682/callback',
    codeChallenge: challenge,
    state: 'state-value',
    scopes: ['openid'],
    audience: 'api',
    nonce: 'n',
    prompt: 'login',
    loginHint: 'user@example.com',
    extraParams: { ui_locales: 'en' },
  }
  const authorizationUrl: URL = buildAuthorizationUrl(
    metadata.authorization_endpoint ?? '',
    'cli',
    authorizationOptions,
  )
  const parseOptions: ParseAuthorizationResponseOptions = {
    state: 'state-value',
    issuer: metadata.issuer,
    issParameterRequired: metadata.authorization_response_iss_parameter_supported === true,
  }
  const { code: authorizationCode } = parseAuthorizationResponse(authorizationUrl, parseOptions)
  const signedIn = await getToken('https://idp.example/token', {
    grantType: GrantType.AUTHORIZATION_CODE,
    code: authorizationCode,
    redirectUri: authorizationOptions.redirectUri,
    codeVerifier: pkce.codeVerifier,
    clientId: 'cli',
  })
  const revokeOptions: RevokeTokenOptions = { tokenTypeHint: 'refresh_token', clientId: 'cli', signal }
  await revokeToken(metadata.revocation_endpoint ?? '', signedIn.refreshToken ?? '', revokeOptions)

  return [
    expiresIn,
    shown,
    interval,
    fromJson.deviceCode,
    refreshed.accessToken,
    custom.name,
    status,
    code,
    json.message,
    pending.error,
    grant,
    utf8,
    errorAuthPending,
    parsedKeys.length,
    proxied,
  ].join(' ')
}

// Sign-in with the browser, shared sessions.
export const browserOptions: BrowserAuthenticatorOptions = {
  issuer: 'https://idp.example',
  clientId: 'spa',
  redirectUri: 'https://app.example/',
}
export async function signInFlow(auth: BrowserAuthenticator, options: SignInOptions): Promise<void> {
  const done: RedirectResult | undefined = await auth.handleRedirect()
  if (done === undefined) await auth.signIn(options)
  const out: SignOutResult = await auth.signOut()
  assertType<Equal<typeof out.revoked, boolean>>()
}
export const loopbackOptions: LoopbackAuthenticatorOptions = {
  issuer: 'https://idp.example',
  clientId: 'cli',
  onAuthorizationUrl: (url: URL) => void url,
  callbackTimeout: 60_000,
  prompt: 'consent',
}
export const lockOptions: LockOptions = { signal: AbortSignal.timeout(1000) }
export const fileLockOptions: FileLockOptions = { staleAfter: 10_000 }
export const publicClient: ClientAuthenticationFields = { clientId: 'cli' }

// Keys instead of shared secrets: private_key_jwt / client_secret_jwt (RFC 7523), DPoP (RFC 9449), mTLS (RFC 8705).
assertType<Equal<typeof clientAssertionType, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'>>()
assertType<Equal<JwsAlgorithm, 'RS256' | 'PS256' | 'ES256' | 'EdDSA' | 'HS256'>>()
assertType<
  Equal<ClientAuthMethod, 'basic' | 'basic-unencoded' | 'post' | 'private_key_jwt' | 'client_secret_jwt'>
>()
export async function withKeys(pem: string, jwk: JsonWebKey): Promise<string> {
  const clientKey: CryptoKey = await importPrivateKeyPem(pem, 'ES256')
  const assertionOptions: ClientAssertionOptions = { keyId: 'k1', lifetime: 30, now: Date.now }
  const assertion: string = await createClientAssertion(
    'svc',
    'https://idp.example',
    clientKey,
    assertionOptions,
  )
  const authOptions: ClientAuthOptions = { assertionAudience: 'https://idp.example', clientKeyAlg: 'ES256' }
  const byKey = clientAuthOptions('private_key_jwt', 'svc', jwk, authOptions)
  const bySecret = clientAuthOptions('client_secret_jwt', 'svc', 'secret')
  const source: ClientAssertion | undefined = byKey.clientAssertion
  const dpopOptions: DPoPOptions = { now: () => Date.now() }
  const dpop: DPoPHandle = await createDPoP(undefined, dpopOptions)
  const clientCert: ClientCertificate = { cert: 'client.pem', key: 'client-key.pem' }
  const token = await getToken('https://idp.example/token', {
    ...byKey,
    dpop,
    clientCert,
    adapter: nodeAdapter,
  })
  await getToken('https://idp.example/token', { clientId: 'svc', clientAssertion: assertion })
  await revokeToken('https://idp.example/revoke', token.accessToken, bySecret)
  await pollTokenEndpoint(
    new DeviceCodeResponse({ deviceCode: 'd', userCode: 'u', verificationUri: 'v', expiresIn: 1 }),
    'https://idp.example/token',
    'cli',
    { dpop },
  )
  const proof: string = await dpop.proof('GET', 'https://api.example/items?page=2', token.accessToken)
  const res: Response = await dpop.withProof(
    'GET',
    'https://api.example/items',
    (p) =>
      fetch('https://api.example/items', {
        headers: { authorization: `DPoP ${token.accessToken}`, dpop: p },
      }),
    token.accessToken,
  )
  const retry: boolean = dpop.observe('https://api.example/items', res)
  // Authenticators bound to a key: a handle, or a promise of one (IndexedDB in browsers, a 0600 file in Node).
  const bound = new ClientCredentialsAuthenticator({
    issuer: 'https://idp.example',
    clientId: 'svc',
    clientKey,
    dpop,
  })
  const browserKey: Promise<DPoPHandle> = indexedDbDPoP('my-spa')
  const spa = new BrowserAuthenticator({
    issuer: 'https://idp.example',
    clientId: 'spa',
    redirectUri: 'https://app.example/',
    dpop: browserKey,
  })
  const cli = new DeviceCodeAuthenticator({
    issuer: 'https://idp.example',
    clientId: 'cli',
    onDeviceCode: () => {},
    dpop: fileDPoP('/tmp/dpop-key.json'),
    clientAuthentication: byKey,
  })
  const stored: StoredToken = { accessToken: 't', tokenType: 'DPoP', jkt: dpop.jkt, obtainedAt: 0 }
  await getDeviceCode('https://idp.example/device', 'svc', { ...byKey, scope: ['openid'] })
  void [bound, spa, cli, stored]
  dpop.setNonce('https://api.example', dpop.nonce('https://api.example') ?? 'n')
  return [
    proof,
    dpop.jkt,
    dpop.alg,
    String(dpop.publicJwk.kty),
    String(retry),
    String(source),
    token.tokenType,
  ].join(' ')
}
