export {
  Authenticator,
  type AuthenticatorEndpoints,
  type AuthenticatorOptions,
  type ClientAuthenticationFields,
  type GetAccessTokenOptions,
  type ObtainedToken,
  type SignOutResult,
} from './authenticators/authenticator.ts'
export {
  BrowserAuthenticator,
  type BrowserAuthenticatorOptions,
  type RedirectResult,
  type SignInOptions,
} from './authenticators/browser-authenticator.ts'
export {
  ClientCredentialsAuthenticator,
  type ClientCredentialsAuthenticatorOptions,
} from './authenticators/client-credentials-authenticator.ts'
export {
  DeviceCodeAuthenticator,
  type DeviceCodeAuthenticatorOptions,
} from './authenticators/device-code-authenticator.ts'
export {
  type AuthorizationResponse,
  type BuildAuthorizationUrlOptions,
  buildAuthorizationUrl,
  type ParseAuthorizationResponseOptions,
  parseAuthorizationResponse,
} from './protocol/authorization.ts'
export { getBasicAuthorizationHeader } from './protocol/basic-auth.ts'
export {
  type ClientAssertion,
  type ClientAssertionOptions,
  clientAssertionType,
  createClientAssertion,
} from './protocol/client-assertion.ts'
export { type ClientAuthMethod, type ClientAuthOptions, clientAuthOptions } from './protocol/client-auth.ts'
export { errorAuthPending, errorSlowDown, GrantType, utf8 } from './protocol/constants.ts'
export { type GetDeviceCodeOptions, getDeviceCode } from './protocol/device-code.ts'
export { DeviceCodeResponse } from './protocol/device-code-response.ts'
export {
  type AuthorizationServerMetadata,
  authorizationServerMetadataSchema,
  type DiscoverOptions,
  discover,
} from './protocol/discovery.ts'
export { createDPoP, type DPoPHandle, type DPoPOptions } from './protocol/dpop.ts'
export {
  AuthenticationError,
  type AuthenticationErrorOptions,
  AuthenticationPending,
} from './protocol/errors.ts'
export { importPrivateKeyPem, type JwsAlgorithm } from './protocol/jws.ts'
export { calculatePkceChallenge, createPkce, type Pkce } from './protocol/pkce.ts'
export { type PollTokenEndpointOptions, pollTokenEndpoint } from './protocol/poll.ts'
export { type RevokeTokenOptions, revokeToken } from './protocol/revocation.ts'
export { type DeviceCodeInit, type TokenResponse, tokenResponseSchema } from './protocol/schemas.ts'
export { type GetTokenOptions, getToken } from './protocol/token.ts'
export type { ClientCertificate, FetchAdapter, TransportOptions } from './protocol/transport.ts'
export { indexedDbDPoP } from './stores/dpop-key-store.ts'
export {
  type LockOptions,
  memoryStore,
  parseStoredToken,
  type StoredToken,
  storedTokenSchema,
  type TokenStore,
  webStorageStore,
} from './stores/token-store.ts'
