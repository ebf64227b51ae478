/**
 * The text encoding used for credentials and form bodies (the seed's `utf_8`).
 *
 * @example
 * ```ts
 * import { utf8 } from 'token-client'
 * new TextDecoder(utf8)
 * ```
 */
export const utf8 = 'utf-8'

/**
 * The OAuth error code a token endpoint answers while the user has not yet approved a device code
 * (RFC 8628 §3.5).
 *
 * @example
 * ```ts
 * if (err instanceof AuthenticationPending && err.error === errorAuthPending) retryLater()
 * ```
 */
export const errorAuthPending = 'authorization_pending'

/**
 * The OAuth error code a token endpoint answers when the device client polls too fast; the client then adds
 * 5 seconds to its polling interval for this and every later request (RFC 8628 §3.5).
 *
 * @example
 * ```ts
 * if (err instanceof AuthenticationPending && err.error === errorSlowDown) interval += 5
 * ```
 */
export const errorSlowDown = 'slow_down'

/**
 * The `grant_type` values this client sends to a token endpoint.
 *
 * @example
 * ```ts
 * await getToken(tokenEndpoint, { grantType: GrantType.REFRESH_TOKEN, refreshToken, clientId })
 * ```
 */
export const GrantType = {
  /** RFC 6749 §4.4 client credentials grant. */
  CLIENT_CREDS: 'client_credentials',
  /** RFC 8628 §3.4 device authorization grant. */
  DEVICE_CODE: 'urn:ietf:params:oauth:grant-type:device_code',
  /** RFC 6749 §6 refresh token grant. */
  REFRESH_TOKEN: 'refresh_token',
  /** RFC 6749 §4.1.3 authorization code grant (with PKCE, RFC 7636 §4.5). */
  AUTHORIZATION_CODE: 'authorization_code',
} as const

/** One of the {@link GrantType} values. */
export type GrantType = (typeof GrantType)[keyof typeof GrantType]
