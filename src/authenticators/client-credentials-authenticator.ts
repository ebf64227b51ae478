import { type ClientAuthMethod, type ClientAuthOptions, clientAuthOptions } from '../protocol/client-auth.ts'
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
 * const byKey: ClientCredentialsAuthenticatorOptions = { issuer, clientId: 'svc', clientKey: privateKey, keyId: 'k1' }
 * ```
 */
export interface ClientCredentialsAuthenticatorOptions extends AuthenticatorOptions, ClientAuthOptions {
  /** The client secret (every method but `private_key_jwt`). */
  clientSecret?: string
  /**
   * The client's private key, a `CryptoKey` or JWK, for `private_key_jwt` (RFC 7523 §2.2): no secret at all.
   * PEM text: {@link importPrivateKeyPem} first. `clientKeyAlg`, `keyId` and `assertionAudience` apply.
   */
  clientKey?: CryptoKey | JsonWebKey
  /**
   * How the client authenticates; default `'basic'` (RFC 6749 §2.3.1) with `clientSecret`, `'private_key_jwt'`
   * with `clientKey`. See {@link ClientAuthMethod}.
   */
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
  readonly #clientAuthentication: ClientAuthenticationFields

  /**
   * @param options - Issuer or token endpoint, client id and secret, `clientAuth`, scopes, audience, store,
   *   skew and transport options.
   * @throws `TypeError` when an option is missing or invalid.
   */
  constructor(options: ClientCredentialsAuthenticatorOptions) {
    super(options, options.tokenEndpoint === undefined ? {} : { tokenEndpoint: options.tokenEndpoint })
    const { clientKey, clientSecret } = options
    if (clientKey === undefined && (typeof clientSecret !== 'string' || clientSecret === '')) {
      throw new TypeError('clientSecret must be a non-empty string (or pass clientKey for private_key_jwt).')
    }
    const clientAuth = options.clientAuth ?? (clientKey === undefined ? 'basic' : 'private_key_jwt')
    // Built once, so that a JWK is imported once; the JWT methods still sign a fresh assertion per request.
    // Misconfiguration fails here, at construction, not at the first request.
    this.#clientAuthentication = clientAuthOptions(
      clientAuth,
      this.clientId,
      (clientAuth === 'private_key_jwt' ? clientKey : clientSecret) ?? '',
      options,
    )
  }

  /** RFC 6749 §4.4.3: a refresh token SHOULD NOT be issued here; a new grant is as cheap. */
  protected override usesRefreshTokens(): boolean {
    return false
  }

  /** Revocation authenticates the client as the grant does. */
  protected override clientAuthentication(): ClientAuthenticationFields {
    return this.#clientAuthentication
  }

  protected override async obtain(endpoints: AuthenticatorEndpoints): Promise<ObtainedToken> {
    const request: GetTokenOptions = {
      ...this.transport,
      ...this.#clientAuthentication,
      ...(await this.dpopOptions()),
      grantType: GrantType.CLIENT_CREDS,
      scopes: [...this.scopes],
    }
    if (this.audience !== undefined) request.audience = this.audience
    const obtainedAt = Date.now()
    return { response: await getToken(endpoints.tokenEndpoint, request), obtainedAt }
  }
}
