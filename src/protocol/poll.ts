import type { ClientAssertion } from './client-assertion.ts'
import { errorSlowDown, GrantType } from './constants.ts'
import { DeviceCodeResponse } from './device-code-response.ts'
import type { DPoPHandle } from './dpop.ts'
import { AuthenticationError, AuthenticationPending } from './errors.ts'
import { checkTimeout, isNetworkFailure, maxTimerDelay } from './http.ts'
import type { TokenResponse } from './schemas.ts'
import { getToken } from './token.ts'
import { checkEndpoint, resolveFetch, type TransportOptions } from './transport.ts'

/**
 * Options of {@link pollTokenEndpoint}: the seed's keyword parameters, camelCase, `onPending` instead of its
 * prints, plus {@link TransportOptions}.
 *
 * @example
 * ```ts
 * const options: PollTokenEndpointOptions = { onPending: ({ attempt }) => showWaiting(attempt), signal }
 * await pollTokenEndpoint(resp, tokenEndpoint, 'my-cli', options)
 * ```
 */
export interface PollTokenEndpointOptions extends TransportOptions {
  /** Audience of the requested token. */
  audience?: string
  /** Scopes to request. */
  scopes?: string[]
  /**
   * Called after each `authorization_pending`/`slow_down` answer (the seed printed instead):
   * `attempt` counts requests so far, `interval` is the current polling interval in seconds.
   */
  onPending?: (info: { attempt: number; interval: number }) => void
  /** Binds the issued token to this DPoP key (RFC 9449 §5): each poll carries a proof, as in {@link getToken}. */
  dpop?: DPoPHandle
  /** JWT client authentication of a confidential client (RFC 7523 §2.2), as in {@link getToken}. */
  clientAssertion?: ClientAssertion
  /** A confidential client's `Authorization` header (HTTP Basic), as in {@link getToken}. */
  authorizationHeader?: string
  /** A confidential client's secret in the body (`client_secret_post`), as in {@link getToken}. */
  clientSecret?: string
}

/** How many network failures in a row a poll survives before giving up. */
const maxConsecutiveNetworkFailures = 3

/** Sleeps on a real clock, never less than `ms`, and stops at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted()
  if (ms <= 0) return Promise.resolve()
  const until = performance.now() + ms
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    // Timers take at most 2^31 - 1 ms (longer ones fire at once, with a warning): long waits go in steps.
    const arm = (delay: number): void => {
      timer = setTimeout(
        () => {
          // Timers may fire a fraction of a millisecond early; RFC 8628 §3.5 says never poll early.
          const left = until - performance.now()
          if (left > 0) return arm(left)
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        Math.min(delay, maxTimerDelay),
      )
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    arm(ms)
  })
}

/**
 * Polls the token endpoint with a device code until the user approves it (RFC 8628 §3.4–3.5).
 *
 * Waits `resp.interval` seconds (on a real clock) before each request; on `slow_down` adds 5 seconds for that
 * and every later request (or takes the server's new interval when larger); on 429/503 waits the longer of
 * `Retry-After` and the interval; survives up to 3 consecutive network failures, doubling the wait after each of a streak and going back to the
 * interval once the server answers again (RFC 8628 §3.5); gives up with an
 * {@link AuthenticationError} (`error: 'expired_token'`) once `resp.expiresIn` seconds have passed since the call.
 * `access_denied`, `expired_token` and any other error end it at once. Prints nothing: use `onPending`.
 *
 * @param resp - The device authorization response from {@link getDeviceCode} (a plain object with the same
 *   fields is validated and accepted).
 * @param tokenEndpoint - The token endpoint URL.
 * @param clientId - The client id.
 * @param options - Scopes, audience, `onPending`, transport options; `signal` aborts the wait and the request.
 * @returns The token response once the user approved.
 *
 * @example
 * ```ts
 * const resp = await getDeviceCode(deviceEndpoint, clientId, { scope: ['openid', 'offline_access'] })
 * console.log(`Open ${resp.verificationUriComplete ?? resp.verificationUri}, code ${resp.userCode}`)
 * const { accessToken, refreshToken } = await pollTokenEndpoint(resp, tokenEndpoint, clientId, {
 *   onPending: ({ attempt }) => console.log(`waiting (${attempt})`),
 * })
 * ```
 */
export async function pollTokenEndpoint(
  resp: DeviceCodeResponse,
  tokenEndpoint: string | URL,
  clientId: string,
  options: PollTokenEndpointOptions = {},
): Promise<TokenResponse> {
  const { onPending, signal } = options
  signal?.throwIfAborted()
  // Configuration errors (plain http, proxy without adapter, a bad timeout) surface now, not after the first interval.
  checkEndpoint(tokenEndpoint, 'token endpoint', options.allowInsecureHttp)
  resolveFetch(options)
  checkTimeout(options)
  // A plain object from JavaScript callers is validated too: a missing expiresIn would mean a poll without end.
  const device = resp instanceof DeviceCodeResponse ? resp : new DeviceCodeResponse(resp)

  const deadline = performance.now() + device.expiresIn * 1000
  let interval = device.interval
  let wait = interval
  let attempt = 0
  let failuresInRow = 0
  const request = { ...options, grantType: GrantType.DEVICE_CODE, clientId, deviceCode: device.deviceCode }

  for (;;) {
    if (performance.now() + wait * 1000 >= deadline) {
      throw new AuthenticationError(
        `The device code expired after ${device.expiresIn} s without approval: start a new device authorization.`,
        { error: 'expired_token' },
      )
    }
    await sleep(wait * 1000, signal)
    attempt++
    try {
      return await getToken(tokenEndpoint, request)
    } catch (err) {
      failuresInRow = isNetworkFailure(err) ? failuresInRow + 1 : 0
      if (err instanceof AuthenticationPending) {
        // RFC 8628 §3.5: slow_down adds 5 seconds to this and all later intervals.
        if (err.error === errorSlowDown) interval = Math.max(interval + 5, err.interval ?? 0)
        wait = interval
        onPending?.({ attempt, interval })
      } else if (
        err instanceof AuthenticationError &&
        (err.status === 429 || err.status === 503) &&
        // RFC 8628 §3.5: these end the flow, whatever status they come with.
        err.error !== 'access_denied' &&
        err.error !== 'expired_token'
      ) {
        wait = Math.max(err.retryAfter ?? 0, interval)
      } else if (failuresInRow === 0) {
        throw err
      } else if (failuresInRow > maxConsecutiveNetworkFailures) {
        throw new AuthenticationError(
          `Polling the token endpoint failed ${failuresInRow} times in a row: ${(err as Error).message}`,
          { cause: err },
        )
      } else {
        // RFC 8628 §3.5: after a connection failure the client MUST poll less often, and the RFC recommends an
        // exponential backoff: double the wait for each failure of the streak. The interval itself is kept (with
        // its slow_down increments): once the server answers again, polling goes back to it.
        wait = interval * 2 ** failuresInRow
      }
    }
  }
}
