/**
 * Poll timing: a device flow (`getDeviceCode` + `pollTokenEndpoint`) against the bench server, which answers
 * `authorization_pending` `pending` times — the last of them `slow_down` — and then the token. The server
 * records when each poll arrives; RFC 8628 §3.5 requires each gap to be at least the interval in force
 * (`interval`, then `interval + 5` s after `slow_down`). The user "approves" right after the last pending
 * answer, the worst case for the time from approval to the token in hand.
 */
import { getDeviceCode, pollTokenEndpoint } from 'token-client'
import type { BenchServer } from './server-process.ts'

export interface PollGap {
  /** Poll number (1 = the gap between poll 0 and poll 1). */
  poll: number
  /** Milliseconds between the two polls' arrivals at the server. */
  gapMs: number
  /** What RFC 8628 requires at least. */
  requiredMs: number
  /** gapMs − requiredMs; negative = early = a violation. */
  deviationMs: number
}

export interface PollTiming {
  intervalSeconds: number
  pending: number
  slowDownAt: number
  gaps: PollGap[]
  meanDeviationMs: number
  maxDeviationMs: number
  /** Gaps shorter than required (RFC 8628 §3.5 violations). */
  early: number
  /** From the device authorization request's arrival to the first poll (the library waits one interval). */
  firstPollMs: number
  /** From the server's "approved" moment to `pollTokenEndpoint` resolving in the client. */
  approvedToTokenMs: number
  /** The interval in force for the final poll, for the "one interval + 50 ms" target. */
  finalIntervalMs: number
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with the server process's. */
const now = (): number => performance.timeOrigin + performance.now()

export async function pollTiming(
  server: BenchServer,
  intervalSeconds: number,
  pending: number,
  slowDownAt = pending - 1,
): Promise<PollTiming> {
  await server.script({ interval: intervalSeconds, pending, slowDownAt })
  const resp = await getDeviceCode(`${server.url}/device`, 'bench-device-client', { scope: ['openid'] })
  if (resp.interval !== intervalSeconds) throw new Error(`interval ${resp.interval} != ${intervalSeconds}`)
  const token = await pollTokenEndpoint(resp, `${server.url}/token`, 'bench-device-client')
  const inHand = now()
  if (typeof token.accessToken !== 'string') throw new Error('poll: no token')
  const record = await server.record()

  const gaps: PollGap[] = []
  let intervalMs = intervalSeconds * 1000
  for (let i = 1; i < record.polls.length; i++) {
    // The answer to poll i-1 set the interval for poll i: slow_down adds 5 s to it and to all later ones.
    if (i - 1 === slowDownAt) intervalMs += 5000
    const gapMs = (record.polls[i] as number) - (record.polls[i - 1] as number)
    gaps.push({ poll: i, gapMs, requiredMs: intervalMs, deviationMs: gapMs - intervalMs })
  }
  if (record.polls.length !== pending + 1)
    throw new Error(`expected ${pending + 1} polls, got ${record.polls.length}`)
  const deviations = gaps.map((gap) => gap.deviationMs)
  return {
    intervalSeconds,
    pending,
    slowDownAt,
    gaps,
    meanDeviationMs: deviations.reduce((a, b) => a + b, 0) / deviations.length,
    maxDeviationMs: Math.max(...deviations),
    early: deviations.filter((d) => d < 0).length,
    firstPollMs: (record.polls[0] as number) - record.deviceAt,
    approvedToTokenMs: inHand - record.approvedAt,
    finalIntervalMs: intervalMs,
  }
}
