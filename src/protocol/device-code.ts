import { DeviceCodeResponse } from './device-code-response.ts'
import { postForm } from './http.ts'
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
}

/**
 * Starts a device authorization (RFC 8628 §3.1): asks the device authorization endpoint for a device code and
 * the user code to show the user.
 *
 * @param deviceAuthEndpoint - The device authorization endpoint URL.
 * @param clientId - The client id.
 * @param options - Scope, audience and transport options.
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
  const init = await postForm(
    {
      url: checkEndpoint(deviceAuthEndpoint, 'device authorization endpoint', options.allowInsecureHttp),
      what: 'device authorization endpoint',
      form: { client_id: clientId, scope: options.scope?.join(' ') || undefined, audience: options.audience },
      transport: options,
    },
    deviceAuthorizationBodySchema,
  )
  return new DeviceCodeResponse(init)
}
