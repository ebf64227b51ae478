import type * as v from 'valibot'
import { AuthenticationError } from './errors.ts'
import {
  type DeviceCodeInit,
  deviceAuthorizationBodySchema,
  deviceCodeInitSchema,
  parseOrThrow,
} from './schemas.ts'

/** The fields of a {@link DeviceCodeResponse}: the output of its schema, read-only. */
type DeviceCodeFields = Readonly<v.InferOutput<typeof deviceCodeInitSchema>>

// The fields are declared by the schema alone (merged into the class below) and set from its validated output.
export interface DeviceCodeResponse extends DeviceCodeFields {}

/**
 * The answer of a device authorization endpoint (RFC 8628 §3.2): what to show the user, and the device code
 * to poll the token endpoint with. Its read-only fields, `deviceCode`, `userCode`, `verificationUri`,
 * `verificationUriComplete?`, `expiresIn` (seconds) and `interval` (seconds), are set only from a validated init.
 *
 * @example
 * ```ts
 * const resp = await getDeviceCode(deviceEndpoint, clientId, { scope: ['openid', 'offline_access'] })
 * showUser(`Open ${resp.verificationUri} and enter ${resp.userCode}`)
 * const token = await pollTokenEndpoint(resp, tokenEndpoint, clientId)
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the constructor assigns every field of the interface.
export class DeviceCodeResponse {
  /**
   * @param init - The fields, camelCase. `interval` defaults to 5 seconds.
   * @throws {@link AuthenticationError} when a field is missing or of the wrong type.
   */
  constructor(init: DeviceCodeInit) {
    // The validated init is the fields' only source.
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
