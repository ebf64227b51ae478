import { type GetDeviceCodeOptions, getDeviceCode } from '../protocol/device-code.ts'
import type { DeviceCodeResponse } from '../protocol/device-code-response.ts'
import { AuthenticationError } from '../protocol/errors.ts'
import { type PollTokenEndpointOptions, pollTokenEndpoint } from '../protocol/poll.ts'
import {
  Authenticator,
  type AuthenticatorEndpoints,
  type AuthenticatorOptions,
  type ClientAuthenticationFields,
  type ObtainedToken,
} from './authenticator.ts'

/**
 * Options of {@link DeviceCodeAuthenticator}.
 *
 * @example
 * ```ts
 * const options: DeviceCodeAuthenticatorOptions = {
 *   tokenEndpoint: 'https://idp.example/oauth2/token',
 *   deviceAuthorizationEndpoint: 'https://idp.example/oauth2/device',
 *   clientId: 'my-cli',
 *   onDeviceCode: (code) => render(code.userCode, code.verificationUriComplete ?? code.verificationUri),
 * }
 * ```
 */
export interface DeviceCodeAuthenticatorOptions extends AuthenticatorOptions {
  /** The device authorization endpoint, when not discovered from `issuer`. */
  deviceAuthorizationEndpoint?: string | URL
  /**
   * Shows the user where to go and what code to enter (the library prints nothing). Called for every new
   * device flow, not for refreshes; the flow waits for the returned promise, if any, before polling.
   */
  onDeviceCode: (code: DeviceCodeResponse) => void | Promise<void>
  /** Called after each `authorization_pending`/`slow_down` answer while the user has not approved yet. */
  onPending?: PollTokenEndpointOptions['onPending']
  /**
   * A confidential client's authentication, for the device authorization request, the polls, refreshes and
   * revocation (RFC 8628 §3.1, §3.4): e.g. `clientAuthOptions('private_key_jwt', clientId, privateKey)` (no
   * shared secret, RFC 7523). Default: a public client, identified by `client_id` only.
   */
  clientAuthentication?: ClientAuthenticationFields
}

/**
 * A user's token by the device flow (RFC 8628; flytekit's `DeviceCodeAuthenticator`), for public clients
 * (CLIs, TVs, single-page apps). The first call shows a code through `onDeviceCode` and waits for the user;
 * later calls use the cached token, then the refresh token (RFC 6749 §6): a rotated refresh token replaces the
 * old one, and the old one is kept when the answer carries none. Only when the refresh token is refused with
 * `invalid_grant` (expired, revoked) does it start a new device flow; any other failure is thrown.
 * Ask for `offline_access` (OpenID Connect) where the server needs it to issue refresh tokens.
 *
 * @example
 * ```ts
 * const auth = new DeviceCodeAuthenticator({
 *   issuer: 'https://idp.example',
 *   clientId: 'my-cli',
 *   scopes: ['openid', 'offline_access'],
 *   onDeviceCode: ({ verificationUri, userCode }) => console.error(`Open ${verificationUri} and enter ${userCode}`),
 * })
 * const token = await auth.getAccessToken()
 * // Tokens bound to a key (RFC 9449): every poll and refresh carries a proof by it.
 * const bound = new DeviceCodeAuthenticator({ issuer, clientId: 'my-cli', onDeviceCode, dpop: await createDPoP() })
 * ```
 */
export class DeviceCodeAuthenticator extends Authenticator {
  readonly #onDeviceCode: DeviceCodeAuthenticatorOptions['onDeviceCode']
  readonly #onPending: DeviceCodeAuthenticatorOptions['onPending']
  readonly #clientAuthentication: ClientAuthenticationFields | undefined

  /**
   * @param options - Issuer or endpoints, client id, scopes, audience, `onDeviceCode`, `onPending`, store,
   *   skew and transport options.
   * @throws `TypeError` when an option is missing or invalid.
   */
  constructor(options: DeviceCodeAuthenticatorOptions) {
    const explicit: Partial<AuthenticatorEndpoints> = {}
    if (options.tokenEndpoint !== undefined) explicit.tokenEndpoint = options.tokenEndpoint
    if (options.deviceAuthorizationEndpoint !== undefined) {
      explicit.deviceAuthorizationEndpoint = options.deviceAuthorizationEndpoint
    }
    super(options, explicit, ['tokenEndpoint', 'deviceAuthorizationEndpoint'])
    if (typeof options.onDeviceCode !== 'function') {
      throw new TypeError('onDeviceCode is required: it shows the user the code to enter.')
    }
    this.#onDeviceCode = options.onDeviceCode
    this.#onPending = options.onPending
    this.#clientAuthentication = options.clientAuthentication
  }

  /** The confidential client's authentication when given, else the public client's `client_id`. */
  protected override clientAuthentication(): ClientAuthenticationFields {
    return { clientId: this.clientId, ...this.#clientAuthentication }
  }

  protected override obtain(endpoints: AuthenticatorEndpoints): Promise<ObtainedToken> {
    return this.#deviceFlow(endpoints)
  }

  async #deviceFlow(endpoints: AuthenticatorEndpoints): Promise<ObtainedToken> {
    const deviceEndpoint = endpoints.deviceAuthorizationEndpoint
    if (deviceEndpoint === undefined) {
      throw new AuthenticationError(
        'The authorization server metadata names no device_authorization_endpoint: pass deviceAuthorizationEndpoint.',
      )
    }
    const auth = this.#clientAuthentication
    const codeRequest: GetDeviceCodeOptions = { ...this.transport, ...auth, scope: [...this.scopes] }
    if (this.audience !== undefined) codeRequest.audience = this.audience
    const code = await getDeviceCode(deviceEndpoint, this.clientId, codeRequest)
    await this.#onDeviceCode(code)
    // The token's lifetime starts when the successful poll is sent, which happens only after the previous poll
    // was answered: that answer's time is the latest known moment before it. The user may take minutes to
    // approve, so the time the flow started would make the token look (nearly) expired on arrival.
    let obtainedAt = Date.now()
    const onPending = this.#onPending
    const pollRequest: PollTokenEndpointOptions = {
      ...this.transport,
      ...auth,
      ...(await this.dpopOptions()),
      onPending: (progress) => {
        obtainedAt = Date.now()
        onPending?.(progress)
      },
    }
    if (this.audience !== undefined) pollRequest.audience = this.audience
    const response = await pollTokenEndpoint(code, endpoints.tokenEndpoint, this.clientId, pollRequest)
    return { response, obtainedAt }
  }
}
