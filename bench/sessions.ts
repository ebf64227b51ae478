/**
 * Shared sessions (part 6 of `npm run bench`): the warm path and the cost of the store's lock.
 *
 * - Warm path: a cached `getAccessToken()` (ns per call), and `authenticator.fetch` against the bench server's
 *   loopback resource against raw fetch with a fixed `Authorization` header, interleaved rounds.
 * - One renewal (invalidate + getAccessToken, a client-credentials grant) with fileStore and its lock file
 *   against the same fileStore without `lock`, interleaved; the median difference per renewal.
 * - Contention: N processes on one fileStore with an expired token, all told to go at once: time until all hold
 *   the new token, against one process alone (process start-up excluded: they are ready before `go`).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClientCredentialsAuthenticator, type TokenStore } from 'token-client'
import { fileStore } from 'token-client/node'
import { clientId, clientSecret, median } from './loop.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

export interface SessionBench {
  cachedGetAccessTokenNs: number
  /** Median over rounds of (authenticator.fetch time / raw fetch time). */
  fetchRatio: number
  renewalWithLockMs: number
  renewalWithoutLockMs: number
  /** Median over rounds of the per-renewal difference (with lock − without). */
  lockCostMs: number
  contenders: number
  contendedMs: number
  aloneMs: number
}

function authenticator(tokenEndpoint: string, store: TokenStore): ClientCredentialsAuthenticator {
  return new ClientCredentialsAuthenticator({
    tokenEndpoint,
    clientId,
    clientSecret,
    scopes: ['api:read', 'api:write'],
    store,
  })
}

/** Milliseconds for `n` renewals: the token is invalidated, then renewed with one grant. */
async function renewals(auth: ClientCredentialsAuthenticator, n: number): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < n; i++) {
    await auth.invalidate()
    await auth.getAccessToken()
  }
  return performance.now() - start
}

/** Runs `count` ready processes, says go to all, resolves with ms until the last one holds a token. */
async function contend(count: number, tokenEndpoint: string, storePath: string): Promise<number> {
  const seed = authenticator(tokenEndpoint, fileStore(storePath))
  await seed.getAccessToken()
  await seed.invalidate()
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['bench/contend-child.ts', tokenEndpoint, storePath], {
      cwd: root,
      stdio: 'pipe',
    }),
  )
  const lines = (child: (typeof children)[number], word: string): Promise<void> =>
    new Promise((resolve, reject) => {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk
        if (out.includes(word)) resolve()
      })
      child.once('exit', () => reject(new Error(`contender exited before "${word}": ${out}`)))
    })
  try {
    await Promise.all(children.map((child) => lines(child, 'ready')))
    const done = children.map((child) => lines(child, 'done'))
    const start = performance.now()
    for (const child of children) child.stdin.write('go\n')
    await Promise.all(done)
    return performance.now() - start
  } finally {
    for (const child of children) child.kill('SIGKILL')
  }
}

export async function sessionBench(
  server: { url: string; tokenEndpoint: string },
  config: { rounds: number; warmCalls: number; fetches: number; renewals: number; contenders: number },
): Promise<SessionBench> {
  const dir = await mkdtemp(join(tmpdir(), 'token-client-bench-'))
  try {
    const { tokenEndpoint } = server
    const resource = `${server.url}/resource`

    // Warm path: a valid token in memory.
    const warm = authenticator(tokenEndpoint, fileStore(join(dir, 'warm.json')))
    const token = await warm.getAccessToken()
    for (let i = 0; i < 10_000; i++) await warm.getAccessToken()
    const warmRounds: number[] = []
    for (let round = 0; round < config.rounds; round++) {
      const start = performance.now()
      for (let i = 0; i < config.warmCalls; i++) await warm.getAccessToken()
      warmRounds.push(((performance.now() - start) * 1e6) / config.warmCalls)
    }

    const raw = async (): Promise<void> => {
      const res = await fetch(resource, { headers: { authorization: `Bearer ${token}` } })
      await res.text()
    }
    const viaAuth = async (): Promise<void> => {
      const res = await warm.fetch(resource)
      await res.text()
    }
    const fetchRatios: number[] = []
    for (let round = -1; round < config.rounds; round++) {
      const times: number[] = []
      for (const send of [raw, viaAuth]) {
        const start = performance.now()
        for (let i = 0; i < config.fetches; i++) await send()
        times.push(performance.now() - start)
      }
      if (round >= 0) fetchRatios.push((times[1] as number) / (times[0] as number))
    }

    // One renewal with and without the lock (same file store, `lock` left out).
    const locked = fileStore(join(dir, 'locked.json'))
    const plain = fileStore(join(dir, 'plain.json'))
    const unlocked: TokenStore = { get: plain.get, set: plain.set, delete: plain.delete }
    const withLock = authenticator(tokenEndpoint, locked)
    const withoutLock = authenticator(tokenEndpoint, unlocked)
    await renewals(withLock, 50)
    await renewals(withoutLock, 50)
    const withMs: number[] = []
    const withoutMs: number[] = []
    for (let round = 0; round < config.rounds; round++) {
      withMs.push((await renewals(withLock, config.renewals)) / config.renewals)
      withoutMs.push((await renewals(withoutLock, config.renewals)) / config.renewals)
    }

    // Contention: N processes against one alone, alternating.
    const contended: number[] = []
    const alone: number[] = []
    for (let round = 0; round < Math.max(3, Math.ceil(config.rounds / 2)); round++) {
      alone.push(await contend(1, tokenEndpoint, join(dir, `alone-${round}.json`)))
      contended.push(await contend(config.contenders, tokenEndpoint, join(dir, `many-${round}.json`)))
    }

    return {
      cachedGetAccessTokenNs: median(warmRounds),
      fetchRatio: median(fetchRatios),
      renewalWithLockMs: median(withMs),
      renewalWithoutLockMs: median(withoutMs),
      lockCostMs: median(withMs.map((t, i) => t - (withoutMs[i] as number))),
      contenders: config.contenders,
      contendedMs: median(contended),
      aloneMs: median(alone),
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
