import { type ClientAssertion, clientAssertionFields } from './client-assertion.ts'
import { postFormForStatus } from './http.ts'
import { authorizationSecrets } from './redact.ts'
import { checkEndpoint, type TransportOptions } from './transport.ts'

/**
 * Options of {@link revokeToken}: the hint, client authentication as for {@link getToken}, and
 * {@link TransportOptions}.
 *
 * @example
 * ```ts
 * const options: RevokeTokenOptions = { tokenTypeHint: 'refresh_token', clientId: 'my-cli', timeout: 5_000 }
 * await revokeToken(metadata.revocation_endpoint!, refreshToken, options)
 * ```
 */
export interface RevokeTokenOptions extends TransportOptions {
  /** Which kind of token it is (`token_type_hint`, RFC 7009 §2.1): helps the server find it faster. */
  tokenTypeHint?: 'access_token' | 'refresh_token'
  /** The client id, sent as `client_id` (public clients, RFC 6749 §2.3, RFC 7009 §2.1). */
  clientId?: string
  /** `Authorization` header value, e.g. from {@link getBasicAuthorizationHeader} (confidential clients). */
  authorizationHeader?: string
  /** The client secret, sent in the form body as `client_secret` (`client_secret_post`, RFC 6749 §2.3.1). */
  clientSecret?: string
  /**
   * JWT client authentication (RFC 7523 §2.2), as for {@link getToken}: a function is called with the revocation
   * endpoint's URL and makes a fresh assertion.
   */
  clientAssertion?: ClientAssertion
}

/**
 * Revokes a refresh or access token at the server's revocation endpoint (RFC 7009 §2.1): a form POST of
 * `token` and `token_type_hint`, with the client's authentication as for {@link getToken} (HTTP Basic in
 * `authorizationHeader`, or `client_id` and `client_secret` in the body). Revoking a refresh token usually
 * revokes its access tokens too (RFC 7009 §2.1), the whole sign-in with many servers.
 *
 * Any 2xx answer is success, whatever its body (§2.2), including for a token the server does not know or has
 * already revoked: the token is unusable either way. An OAuth error body fails even with a 2xx status.
 *
 * @param revocationEndpoint - The revocation endpoint (`https:`, or `http:` on loopback), e.g.
 *   `metadata.revocation_endpoint` from {@link discover}.
 * @param token - The token to revoke. It is never put in an error.
 * @param options - Hint, client authentication and transport options.
 * @throws {@link AuthenticationError} when the server refuses (`error` is e.g. `unsupported_token_type`
 *   (§2.2.1), `invalid_client`), fails (503 with `retryAfter`), or cannot be reached; the token, client secret
 *   and `Authorization` value are redacted from it.
 * @throws `TypeError` for an invalid endpoint, an empty token, or transport options that need an adapter.
 *
 * @example
 * ```ts
 * // Signing out of a CLI: revoke the refresh token, then forget it.
 * await revokeToken(metadata.revocation_endpoint!, stored.refreshToken, {
 *   tokenTypeHint: 'refresh_token',
 *   clientId: 'my-cli',
 * })
 * ```
 */
export async function revokeToken(
  revocationEndpoint: string | URL,
  token: string,
  options: RevokeTokenOptions = {},
): Promise<void> {
  const url = checkEndpoint(revocationEndpoint, 'revocation endpoint', options.allowInsecureHttp)
  if (typeof token !== 'string' || token === '') {
    throw new TypeError('revokeToken needs the token to revoke: pass the refresh or access token.')
  }
  const assertion = await clientAssertionFields(options.clientAssertion, url)
  await postFormForStatus({
    url,
    what: 'revocation endpoint',
    form: {
      token,
      token_type_hint: options.tokenTypeHint,
      client_id: options.clientId,
      client_secret: options.clientSecret,
      ...assertion,
    },
    authorization: options.authorizationHeader,
    secrets: () => [
      ...authorizationSecrets(options.authorizationHeader),
      token,
      options.clientSecret,
      assertion.client_assertion,
    ],
    transport: options,
  })
}
