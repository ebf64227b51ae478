import { type ClientAuthMethod, clientAuthOptions } from '../protocol/client-auth.ts'
import { GrantType } from '../protocol/constants.ts'
import { type GetTokenOptions, getToken } from '../protocol/token.ts'
import {
  Authenticator,
  type AuthenticatorEndpoints,
  type AuthenticatorOptions,
  type ClientAuthenticationFields,
  type ObtainedToken,
} from './authenticator.ts'

/**
 * Options of {@link ClientCredentialsAuthenticator}.
 *
 * @example
 * ```ts
 * const options: ClientCredentialsAuthenticatorOptions = {
 *   tokenEndpoint: 'https://idp.example/oauth2/token',
 *   clientId: 'svc',
 *   clientSecret,
 *   clientAuth: 'post',
 * }
 * ```
 */
export interface ClientCredentialsAuthenticatorOptions extends AuthenticatorOptions {
  /** The client secret. */
  clientSecret: string
  /** How the client authenticates; default `'basic'` (RFC 6749 §2.3.1). See {@link ClientAuthMethod}. */
  clientAuth?: ClientAuthMethod
}

/**
 * A service's own token, by the client credentials grant (RFC 6749 §4.4; flytekit's
 * `ClientCredentialsAuthenticator`): cached until `skew` before expiry, one request for any number of
 * concurrent callers, kept in the `store`. No refresh token is used: a new grant is as cheap (§4.4.3).
 *
 * @example
 * ```ts
 * const auth = new ClientCredentialsAuthenticator({
 *   issuer: 'https://idp.example',
 *   clientId: 'my-service',
 *   clientSecret: process.env.CLIENT_SECRET!,
 *   scopes: ['api:read'],
 * })
 * const res = await auth.fetch('https://api.example/items')
 * ```
 */
export class ClientCredentialsAuthenticator extends Authenticator {
  readonly #clientSecret: string
  readonly #clientAuth: ClientAuthMethod

  /**
   * @param options - Issuer or token endpoint, client id and secret, `clientAuth`, scopes, audience, store,
   *   skew and transport options.
   * @throws `TypeError` when an option is missing or invalid.
   */
  constructor(options: ClientCredentialsAuthenticatorOptions) {
    super(options, options.tokenEndpoint === undefined ? {} : { tokenEndpoint: options.tokenEndpoint })
    if (typeof options.clientSecret !== 'string' || options.clientSecret === '') {
      throw new TypeError('clientSecret must be a non-empty string.')
    }
    this.#clientSecret = options.clientSecret
    this.#clientAuth = options.clientAuth ?? 'basic'
    // Fail at construction, not at the first request.
    clientAuthOptions(this.#clientAuth, this.clientId, this.#clientSecret)
  }

  /** RFC 6749 §4.4.3: a refresh token SHOULD NOT be issued here; a new grant is as cheap. */
  protected override usesRefreshTokens(): boolean {
    return false
  }

  /** Revocation authenticates the client as the grant does. */
  protected override clientAuthentication(): ClientAuthenticationFields {
    return clientAuthOptions(this.#clientAuth, this.clientId, this.#clientSecret)
  }

  protected override async obtain(endpoints: AuthenticatorEndpoints): Promise<ObtainedToken> {
    const request: GetTokenOptions = {
      ...this.transport,
      ...clientAuthOptions(this.#clientAuth, this.clientId, this.#clientSecret),
      grantType: GrantType.CLIENT_CREDS,
      scopes: [...this.scopes],
    }
    if (this.audience !== undefined) request.audience = this.audience
    const obtainedAt = Date.now()
    return { response: await getToken(endpoints.tokenEndpoint, request), obtainedAt }
  }
}
