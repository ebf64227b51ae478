export {
  Authenticator,
  type AuthenticatorEndpoints,
  type AuthenticatorOptions,
  type GetAccessTokenOptions,
  type ObtainedToken,
} from './authenticator.ts'
export { getBasicAuthorizationHeader } from './basic-auth.ts'
export type { ClientAuthMethod } from './client-auth.ts'
export {
  ClientCredentialsAuthenticator,
  type ClientCredentialsAuthenticatorOptions,
} from './client-credentials-authenticator.ts'
export { errorAuthPending, errorSlowDown, GrantType, utf8 } from './constants.ts'
export { type GetDeviceCodeOptions, getDeviceCode } from './device-code.ts'
export { DeviceCodeAuthenticator, type DeviceCodeAuthenticatorOptions } from './device-code-authenticator.ts'
export { DeviceCodeResponse } from './device-code-response.ts'
export {
  type AuthorizationServerMetadata,
  authorizationServerMetadataSchema,
  type DiscoverOptions,
  discover,
} from './discovery.ts'
export { AuthenticationError, type AuthenticationErrorOptions, AuthenticationPending } from './errors.ts'
export { type PollTokenEndpointOptions, pollTokenEndpoint } from './poll.ts'
export { type DeviceCodeInit, type TokenResponse, tokenResponseSchema } from './schemas.ts'
export { type GetTokenOptions, getToken } from './token.ts'
export {
  memoryStore,
  parseStoredToken,
  type StoredToken,
  storedTokenSchema,
  type TokenStore,
  webStorageStore,
} from './token-store.ts'
export type { FetchAdapter, TransportOptions } from './transport.ts'
