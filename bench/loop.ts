/**
 * Runtime-neutral benchmark loops and rows (imported by the Node runner and by the Deno bench alike): web APIs
 * and ky only.
 */
import ky from 'ky'

/** One client-credentials grant; resolves once the token is in hand (and checked). */
export type Grant = () => Promise<unknown>

/** What every row requests, so that every client sends the same form. */
export const scope = 'api:read api:write'
export const clientId = 'bench-client'
export const clientSecret = 'bench-s3cr3t:with/odd?chars&+ %'

/** Milliseconds for `n` grants, one after the other. */
export async function sequential(grant: Grant, n: number): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < n; i++) await grant()
  return performance.now() - start
}

/** Milliseconds for `total` grants with `inFlight` of them running at any moment. */
export async function concurrent(grant: Grant, total: number, inFlight: number): Promise<number> {
  let started = 0
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++
      await grant()
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker))
  return performance.now() - start
}

/**
 * The floor: one `fetch` with exactly the headers and body token-client sends, then `JSON.parse` of the text.
 * `authorization` is the Basic value, built once (as every client here does).
 */
export function rawFetchGrant(tokenEndpoint: string, authorization: string): Grant {
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope }).toString()
  return async () => {
    const response = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'cache-control': 'no-cache',
        'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
        authorization,
      },
      body,
    })
    const json = JSON.parse(await response.text()) as { access_token?: unknown }
    if (response.status !== 200 || typeof json.access_token !== 'string')
      throw new Error('raw fetch: no token')
    return json
  }
}

/**
 * ky's own share: the very call token-client's `postForm` makes in its default path (ky 2 with retry and ky's
 * timeouts off, redirects not followed, the form and the signal handed to fetch, one timer for the timeout),
 * then `JSON.parse`, with none of token-client's own work (URL check, form building, validation, errors).
 * The gap between this row and raw fetch is the floor ky sets; the gap between it and token-client is ours.
 */
export function kyFloorGrant(tokenEndpoint: string, authorization: string): Grant {
  const url = new URL(tokenEndpoint)
  const form = new URLSearchParams({ grant_type: 'client_credentials', scope }).toString()
  return async () => {
    const controller = new AbortController()
    const { signal } = controller
    const timer = setTimeout(() => controller.abort(), 30_000)
    try {
      const response = await ky.post(url, {
        headers: {
          accept: 'application/json',
          'cache-control': 'no-cache',
          'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
          authorization,
        },
        throwHttpErrors: false,
        redirect: 'manual',
        timeout: false,
        totalTimeout: false,
        retry: 0,
        fetch: (request, init) => fetch(request, { ...init, body: form, signal }),
      })
      const json = JSON.parse(await response.text()) as { access_token?: unknown }
      if (response.status !== 200 || typeof json.access_token !== 'string') throw new Error('ky: no token')
      return json
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Checks a token-client answer, so that a row that silently fails cannot look fast. */
export function expectToken(token: { accessToken?: unknown }): void {
  if (typeof token.accessToken !== 'string') throw new Error('no access token')
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Per-row timings of one benchmark mode: `ms[row][round]`. */
export type Timings = Record<string, number[]>

/**
 * Runs `rounds` interleaved rounds (A B C …, A B C …) after one warm-up pass, for one mode, and returns the
 * milliseconds of each row in each round.
 */
export async function interleaved(
  rows: ReadonlyArray<readonly [name: string, grant: Grant]>,
  run: (grant: Grant, n: number) => Promise<number>,
  n: number,
  rounds: number,
  warmup: number,
): Promise<Timings> {
  const ms: Timings = {}
  for (const [name, grant] of rows) {
    await run(grant, warmup)
    ms[name] = []
  }
  for (let round = 0; round < rounds; round++) {
    for (const [name, grant] of rows) (ms[name] as number[]).push(await run(grant, n))
  }
  return ms
}
