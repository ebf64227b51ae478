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
  type AuthorizationServerMetadata,
  authorizationServerMetadataSchema,
  ClientCredentialsAuthenticator,
  DeviceCodeAuthenticator,
  type DeviceCodeInit,
  DeviceCodeResponse,
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
  memoryStore,
  type PollTokenEndpointOptions,
  parseStoredToken,
  pollTokenEndpoint,
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
import { fileStore, type FetchAdapter as NodeFetchAdapter, nodeAdapter, proxyForUrl } from 'token-client/node'

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
} satisfies Record<keyof typeof core, unknown>
export const nodeExports = { nodeAdapter, fileStore, proxyForUrl } satisfies Record<
  keyof typeof node,
  unknown
>
export const denoExports = { denoAdapter } satisfies Record<keyof typeof deno, unknown>

// Constants keep their literal types.
assertType<Equal<typeof utf8, 'utf-8'>>()
assertType<Equal<typeof errorAuthPending, 'authorization_pending'>>()
assertType<Equal<typeof errorSlowDown, 'slow_down'>>()
assertType<
  Equal<GrantType, 'client_credentials' | 'urn:ietf:params:oauth:grant-type:device_code' | 'refresh_token'>
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
