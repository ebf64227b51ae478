import { type ClientAssertion, clientAssertionFields } from './client-assertion.ts'
import { GrantType } from './constants.ts'
import type { DPoPHandle } from './dpop.ts'
import { postForm } from './http.ts'
import { authorizationSecrets } from './redact.ts'
import { type TokenResponse, tokenBodySchema } from './schemas.ts'
import { checkEndpoint, type TransportOptions } from './transport.ts'

/**
 * Options of {@link getToken}: the seed's keyword parameters, camelCase, plus {@link TransportOptions}.
 *
 * @example
 * ```ts
 * const options: GetTokenOptions = { grantType: GrantType.REFRESH_TOKEN, refreshToken, clientId: 'my-cli' }
 * await getToken(tokenEndpoint, options)
 * ```
 */
export interface GetTokenOptions extends TransportOptions {
  /** Scopes to request, sent space-separated as `scope` (RFC 6749 §3.3). */
  scopes?: string[]
  /** `Authorization` header value, e.g. from {@link getBasicAuthorizationHeader} (RFC 6749 §2.3.1). */
  authorizationHeader?: string
  /** The client id, sent as `client_id` (public clients, RFC 6749 §3.2.1). */
  clientId?: string
  /** The device code, for the device grant (RFC 8628 §3.4). */
  deviceCode?: string
  /** Audience of the requested token (sent as `audience`, as Auth0, Okta and Flyte expect). */
  audience?: string
  /** The grant; default `client_credentials`. */
  grantType?: GrantType
  /** The refresh token, for the refresh grant (RFC 6749 §6). */
  refreshToken?: string
  /** The authorization code, for the authorization code grant (RFC 6749 §4.1.3), from {@link parseAuthorizationResponse}. */
  code?: string
  /** The `redirect_uri` of the authorization request, sent again with the code (RFC 6749 §4.1.3). */
  redirectUri?: string
  /** The PKCE code verifier whose challenge went in the authorization request (RFC 7636 §4.5). */
  codeVerifier?: string
  /**
   * The client secret, sent in the form body as `client_secret` (RFC 6749 §2.3.1 `client_secret_post`, for
   * servers that accept nothing else). Prefer `authorizationHeader` (HTTP Basic) where the server allows it.
   */
  clientSecret?: string
  /**
   * JWT client authentication (RFC 7523 §2.2, `private_key_jwt` / `client_secret_jwt`): sent as
   * `client_assertion` with `client_assertion_type` `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
   * A function makes a fresh assertion for each request (see {@link clientAuthOptions}); a string is sent as is.
   */
  clientAssertion?: ClientAssertion
  /**
   * Binds the token to this DPoP key (RFC 9449): every request carries a `DPoP` proof, a `use_dpop_nonce`
   * answer is retried once with the server's nonce (§8), and `tokenType` is then `DPoP`. See {@link createDPoP}.
   */
  dpop?: DPoPHandle
}

/**
 * Requests a token from a token endpoint: client credentials (default), device code, refresh token or
 * authorization code grant.
 * Sends `application/x-www-form-urlencoded` with `Accept: application/json` and `Cache-Control: no-cache`.
 *
 * @param tokenEndpoint - The token endpoint URL (`https:`, or `http:` on loopback).
 * @param options - Grant parameters and transport options.
 * @returns The validated token response.
 * @throws {@link AuthenticationPending} on `authorization_pending` / `slow_down` (device grant).
 * @throws {@link AuthenticationError} on any other failure, with `status` and the OAuth error fields.
 * @throws `TypeError` for an invalid endpoint or options (plain http to a remote host, proxy without adapter,
 *   a client key that cannot sign).
 *
 * @example
 * ```ts
 * const authorizationHeader = getBasicAuthorizationHeader(clientId, clientSecret)
 * const { accessToken, expiresIn } = await getToken('https://idp.example/oauth2/token', {
 *   authorizationHeader,
 *   scopes: ['api:read'],
 * })
 * // Authorization code + PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5), after parseAuthorizationResponse:
 * const signedIn = await getToken(tokenEndpoint, {
 *   grantType: GrantType.AUTHORIZATION_CODE,
 *   code,
 *   redirectUri,
 *   codeVerifier: pkce.codeVerifier,
 *   clientId: 'my-cli',
 * })
 * // No shared secret: private_key_jwt (RFC 7523), and the token bound to a DPoP key (RFC 9449).
 * const dpop = await createDPoP()
 * const bound = await getToken(tokenEndpoint, {
 *   ...clientAuthOptions('private_key_jwt', 'my-service', privateKey, { keyId: 'k1' }),
 *   dpop,
 * }) // bound.tokenType === 'DPoP'
 * ```
 */
export async function getToken(
  tokenEndpoint: string | URL,
  options: GetTokenOptions = {},
): Promise<TokenResponse> {
  const url = checkEndpoint(tokenEndpoint, 'token endpoint', options.allowInsecureHttp)
  const { dpop } = options
  // One attempt: a fresh assertion each time (a replayed jti is refused, RFC 7523 §3), and the proof, if any.
  const send = async (proof?: string, onResponse?: (response: Response) => void): Promise<TokenResponse> => {
    const assertion = await clientAssertionFields(options.clientAssertion, url)
    return postForm(
      {
        url,
        what: 'token endpoint',
        form: {
          grant_type: options.grantType ?? GrantType.CLIENT_CREDS,
          client_id: options.clientId,
          device_code: options.deviceCode,
          scope: options.scopes?.join(' ') || undefined,
          audience: options.audience,
          refresh_token: options.refreshToken,
          code: options.code,
          redirect_uri: options.redirectUri,
          code_verifier: options.codeVerifier,
          client_secret: options.clientSecret,
          ...assertion,
        },
        authorization: options.authorizationHeader,
        dpop: proof,
        onResponse,
        // Derived only if the request fails (decoding the Authorization value costs more than sending it).
        secrets: () => [
          ...authorizationSecrets(options.authorizationHeader),
          options.deviceCode,
          options.refreshToken,
          options.clientSecret,
          options.code,
          options.codeVerifier,
          assertion.client_assertion,
          proof,
        ],
        pendingAllowed: true,
        transport: options,
      },
      tokenBodySchema,
    )
  }
  return dpop ? dpop.withProof('POST', url, send) : send()
}
