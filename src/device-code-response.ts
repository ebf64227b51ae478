import { AuthenticationError } from './errors.ts'
import {
  type DeviceCodeInit,
  deviceAuthorizationBodySchema,
  deviceCodeInitSchema,
  parseOrThrow,
} from './schemas.ts'

/**
 * The answer of a device authorization endpoint (RFC 8628 §3.2): what to show the user, and the device code
 * to poll the token endpoint with.
 *
 * @example
 * ```ts
 * const resp = await getDeviceCode(deviceEndpoint, clientId, { scope: ['openid', 'offline_access'] })
 * showUser(`Open ${resp.verificationUri} and enter ${resp.userCode}`)
 * const token = await pollTokenEndpoint(resp, tokenEndpoint, clientId)
 * ```
 */
export class DeviceCodeResponse {
  /** The device verification code: a secret, sent only to the token endpoint. */
  declare readonly deviceCode: string
  /** The code the user types at the verification page. */
  declare readonly userCode: string
  /** Where the user goes to enter the code (any non-empty string: some servers send a bare host). */
  declare readonly verificationUri: string
  /** The verification URI with the user code already in it, when the server sent one. */
  declare readonly verificationUriComplete?: string
  /** Lifetime of the device code and user code, in seconds. */
  declare readonly expiresIn: number
  /** Minimum seconds between polls; 5 when the server sent none (RFC 8628 §3.2). */
  declare readonly interval: number

  /**
   * @param init - The fields, camelCase. `interval` defaults to 5 seconds.
   * @throws {@link AuthenticationError} when a field is missing or of the wrong type.
   */
  constructor(init: DeviceCodeInit) {
    // The fields are `declare`d: the validated init is their only source.
    Object.assign(
      this,
      parseOrThrow(
        deviceCodeInitSchema,
        init,
        (issues) => new AuthenticationError(`Invalid device code response: ${issues}.`),
      ),
    )
  }

  /**
   * Validates a parsed JSON body of a device authorization endpoint and builds the response from it.
   *
   * @param j - The parsed body (snake_case, as on the wire).
   * @throws {@link AuthenticationError} naming the invalid fields (never their values).
   *
   * @example
   * ```ts
   * const resp = DeviceCodeResponse.fromJsonResponse({
   *   device_code: 'code', user_code: 'BNDJJFXL', verification_uri: 'url', expires_in: 600, interval: 5,
   * })
   * ```
   */
  static fromJsonResponse(j: unknown): DeviceCodeResponse {
    // `this`, not the class name: keeps the bundled class name intact and lets subclasses build themselves.
    return new this(
      parseOrThrow(
        deviceAuthorizationBodySchema,
        j,
        (issues) => new AuthenticationError(`Invalid device authorization response: ${issues}.`),
      ),
    )
  }
}
