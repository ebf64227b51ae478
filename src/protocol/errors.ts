/**
 * The fields an {@link AuthenticationError} carries besides its message.
 *
 * @example
 * ```ts
 * throw new AuthenticationError('The token endpoint refused the request.', { status: 400, error: 'invalid_grant' })
 * ```
 */
export interface AuthenticationErrorOptions {
  /** HTTP status of the response that caused the error, when there was one. */
  status?: number
  /** The OAuth `error` code from the response body (RFC 6749 §5.2), e.g. `invalid_client`. */
  error?: string
  /** The OAuth `error_description` from the response body. */
  errorDescription?: string
  /** The OAuth `error_uri` from the response body. */
  errorUri?: string
  /** Seconds the server asked the client to wait (`Retry-After`), for 429 and 503 answers. */
  retryAfter?: number
  /** The underlying error (network failure, timeout, validation issue). */
  cause?: unknown
}

/**
 * Raised for every failure to obtain a token or device code: an OAuth error answer, an HTTP failure,
 * a malformed or oversized response, a redirect, a timeout, a network or TLS failure, an expired device code.
 *
 * It never holds a client secret, refresh token, device code, authorization code, PKCE code verifier, revoked
 * token or `Authorization` value: those are replaced with `[redacted]` before the error is built, even when
 * the server echoes them back.
 *
 * @example
 * ```ts
 * try {
 *   await getToken(tokenEndpoint, { authorizationHeader })
 * } catch (err) {
 *   if (err instanceof AuthenticationError && err.error === 'invalid_client') console.error('check the client secret')
 *   throw err
 * }
 * ```
 */
export class AuthenticationError extends Error {
  // `declare`d: the constructor assigns them from `options`; class-field initialisers would only add code.
  /** HTTP status of the response, when there was one. */
  declare readonly status?: number
  /** The OAuth `error` code (RFC 6749 §5.2 / RFC 8628 §3.5), when the server sent one. */
  declare readonly error?: string
  /** The OAuth `error_description`, when the server sent one. */
  declare readonly errorDescription?: string
  /** The OAuth `error_uri`, when the server sent one. */
  declare readonly errorUri?: string
  /** Seconds the server asked to wait before trying again (`Retry-After` on 429/503). */
  declare readonly retryAfter?: number

  /**
   * @param message - What went wrong and what to do about it.
   * @param options - The HTTP status, the OAuth error fields and the cause.
   */
  constructor(message: string, options: AuthenticationErrorOptions = {}) {
    const { cause, ...fields } = options
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'AuthenticationError'
    Object.assign(this, fields)
  }

  /**
   * The error as plain data for logs: `name`, `message`, `status`, `error`, `errorDescription`, `errorUri`
   * and the cause's `name` and `message`; nothing else (no response body, no headers).
   */
  toJSON(): {
    name: string
    message: string
    status?: number
    error?: string
    errorDescription?: string
    errorUri?: string
    cause?: { name: string; message: string }
  } {
    const { name, message, status, error, errorDescription, errorUri, cause } = this
    return {
      name,
      message,
      status,
      error,
      errorDescription,
      errorUri,
      cause:
        cause === undefined
          ? undefined
          : cause instanceof Error
            ? { name: cause.name, message: cause.message }
            : { name: typeof cause, message: String(cause) },
    }
  }
}

/**
 * Raised by {@link getToken} when the token endpoint answers `authorization_pending` or `slow_down`
 * (RFC 8628 §3.5): the user has not approved the device code yet. {@link pollTokenEndpoint} handles it;
 * call it again after the interval when you poll yourself.
 *
 * @example
 * ```ts
 * try {
 *   return await getToken(tokenEndpoint, { grantType: GrantType.DEVICE_CODE, deviceCode, clientId })
 * } catch (err) {
 *   if (err instanceof AuthenticationPending) interval += err.error === errorSlowDown ? 5 : 0
 * }
 * ```
 */
export class AuthenticationPending extends Error {
  /** `authorization_pending`, or `slow_down` when the client must add 5 seconds to its interval. */
  declare readonly error: 'authorization_pending' | 'slow_down'
  /** HTTP status of the response (400 per RFC 8628, though some servers use 401, 403, 428 or 200). */
  declare readonly status: number
  /** A new polling interval in seconds, when the server sent one with `slow_down`. */
  declare readonly interval?: number

  /**
   * @param error - The OAuth error code the server sent.
   * @param status - The HTTP status it came with.
   * @param interval - A polling interval (seconds) the server sent along, if any.
   */
  constructor(error: 'authorization_pending' | 'slow_down', status = 400, interval?: number) {
    super(
      `${error}: poll again after the interval${error === 'slow_down' ? ' plus 5 seconds' : ''} (RFC 8628 §3.5).`,
    )
    this.name = 'AuthenticationPending'
    this.error = error
    this.status = status
    if (interval !== undefined) this.interval = interval
  }
}
