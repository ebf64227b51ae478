import { type ClientAssertion, clientAssertionFields } from './client-assertion.ts'
import { DeviceCodeResponse } from './device-code-response.ts'
import { postForm } from './http.ts'
import { authorizationSecrets } from './redact.ts'
import { deviceAuthorizationBodySchema } from './schemas.ts'
import { checkEndpoint, type TransportOptions } from './transport.ts'

/**
 * Options of {@link getDeviceCode}: the seed's keyword parameters, camelCase, plus {@link TransportOptions}.
 *
 * @example
 * ```ts
 * const options: GetDeviceCodeOptions = { scope: ['openid', 'offline_access'], audience: 'https://api.example' }
 * await getDeviceCode(deviceEndpoint, 'my-cli', options)
 * ```
 */
export interface GetDeviceCodeOptions extends TransportOptions {
  /** Audience of the token to be issued (sent as `audience`). */
  audience?: string
  /** Scopes to request, sent space-separated as `scope` (RFC 8628 §3.1). */
  scope?: string[]
  /**
   * A confidential client's `Authorization` header (RFC 8628 §3.1: it authenticates as at the token endpoint),
   * e.g. from {@link getBasicAuthorizationHeader}.
   */
  authorizationHeader?: string
  /** A confidential client's secret in the body (`client_secret_post`). */
  clientSecret?: string
  /** JWT client authentication (RFC 7523 §2.2), as in {@link getToken}; `aud` defaults to this endpoint. */
  clientAssertion?: ClientAssertion
}

/**
 * Starts a device authorization (RFC 8628 §3.1): asks the device authorization endpoint for a device code and
 * the user code to show the user.
 *
 * @param deviceAuthEndpoint - The device authorization endpoint URL.
 * @param clientId - The client id.
 * @param options - Scope, audience, client authentication (confidential clients) and transport options.
 * @returns The validated response; `interval` is 5 when the server sent none.
 * @throws {@link AuthenticationError} on an error answer or an invalid response.
 *
 * @example
 * ```ts
 * const resp = await getDeviceCode('https://idp.example/oauth2/device/auth', 'my-cli', {
 *   scope: ['openid', 'offline_access'],
 * })
 * console.log(`Open ${resp.verificationUri} and enter ${resp.userCode}`)
 * ```
 */
export async function getDeviceCode(
  deviceAuthEndpoint: string | URL,
  clientId: string,
  options: GetDeviceCodeOptions = {},
): Promise<DeviceCodeResponse> {
  const url = checkEndpoint(deviceAuthEndpoint, 'device authorization endpoint', options.allowInsecureHttp)
  const assertion = await clientAssertionFields(options.clientAssertion, url)
  const init = await postForm(
    {
      url,
      what: 'device authorization endpoint',
      form: {
        client_id: clientId,
        scope: options.scope?.join(' ') || undefined,
        audience: options.audience,
        client_secret: options.clientSecret,
        ...assertion,
      },
      authorization: options.authorizationHeader,
      secrets: () => [
        ...authorizationSecrets(options.authorizationHeader),
        options.clientSecret,
        assertion.client_assertion,
      ],
      transport: options,
    },
    deviceAuthorizationBodySchema,
  )
  return new DeviceCodeResponse(init)
}
