import { discover } from '../protocol/discovery.ts'
import { AuthenticationError } from '../protocol/errors.ts'
import type { TransportOptions } from '../protocol/transport.ts'

/**
 * The endpoints an authenticator sends to, given or discovered.
 *
 * @example
 * ```ts
 * const endpoints: AuthenticatorEndpoints = { tokenEndpoint: 'https://idp.example/oauth2/token' }
 * ```
 */
export interface AuthenticatorEndpoints {
  /** The token endpoint (RFC 6749 §3.2). */
  tokenEndpoint: string | URL
  /** The device authorization endpoint (RFC 8628 §3.1), for the device flow. */
  deviceAuthorizationEndpoint?: string | URL
  /** The authorization endpoint (RFC 6749 §3.1), for sign-in with the browser. */
  authorizationEndpoint?: string | URL
  /** The revocation endpoint (RFC 7009 §2), for sign-out. */
  revocationEndpoint?: string | URL
  /**
   * The issuer as its metadata names it, when discovered: authorization responses are checked against it
   * (RFC 9207).
   */
  issuer?: string
  /** Whether the metadata says every authorization response carries `iss` (RFC 9207 §3). */
  issParameterRequired?: boolean
}

/**
 * The endpoints to send to: the explicit ones, completed from the issuer's metadata ({@link discover}) unless
 * every `required` one is given. Internal (shared by the authenticators and the CLI), not re-exported.
 *
 * @example
 * ```ts
 * const { tokenEndpoint } = await resolveEndpoints(issuer, {}, ['tokenEndpoint'], transport)
 * ```
 *
 * @param issuer - The issuer, or `undefined` when every required endpoint is given.
 * @param explicit - The endpoints given explicitly: they win over discovered ones.
 * @param required - The endpoints the caller sends to: with all of them given, nothing is discovered.
 * @param transport - Transport options of the discovery requests.
 * @param tokenEndpointOption - How the caller names the token endpoint option, for the error's hint.
 * @throws {@link AuthenticationError} when the metadata names no token endpoint; `TypeError` when there is
 *   neither an issuer nor a token endpoint.
 */
export async function resolveEndpoints(
  issuer: string | URL | undefined,
  explicit: Readonly<Partial<AuthenticatorEndpoints>>,
  required: ReadonlyArray<keyof AuthenticatorEndpoints>,
  transport: TransportOptions,
  tokenEndpointOption = 'tokenEndpoint',
): Promise<AuthenticatorEndpoints> {
  const metadata =
    issuer === undefined || required.every((name) => explicit[name] !== undefined)
      ? undefined
      : await discover(issuer, transport)
  const tokenEndpoint = explicit.tokenEndpoint ?? metadata?.token_endpoint
  if (tokenEndpoint === undefined) {
    if (issuer === undefined) {
      throw new TypeError(`Give the issuer (to discover the endpoints) or ${tokenEndpointOption}.`)
    }
    throw new AuthenticationError(
      `The metadata of ${String(issuer)} names no token_endpoint: pass ${tokenEndpointOption}.`,
    )
  }
  const endpoints: AuthenticatorEndpoints = { tokenEndpoint }
  const device = explicit.deviceAuthorizationEndpoint ?? metadata?.device_authorization_endpoint
  if (device !== undefined) endpoints.deviceAuthorizationEndpoint = device
  const authorization = explicit.authorizationEndpoint ?? metadata?.authorization_endpoint
  if (authorization !== undefined) endpoints.authorizationEndpoint = authorization
  const revocation = explicit.revocationEndpoint ?? metadata?.revocation_endpoint
  if (revocation !== undefined) endpoints.revocationEndpoint = revocation
  if (metadata !== undefined) {
    endpoints.issuer = metadata.issuer
    if (metadata.authorization_response_iss_parameter_supported === true)
      endpoints.issParameterRequired = true
  }
  return endpoints
}
