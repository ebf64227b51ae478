import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import process from 'node:process'
import type { LockOptions } from './token-store.ts'

/**
 * Options of the lock file of {@link fileStore}.
 *
 * @example
 * ```ts
 * const store = fileStore(path, { staleAfter: 10_000 })
 * ```
 */
export interface FileLockOptions {
  /**
   * Milliseconds without a heartbeat after which a lock file is taken for its holder's leftover and taken over
   * (default 30000). The holder refreshes the file's time every third of this while it holds the lock, so a
   * device flow that waits ten minutes for a person is never taken for a dead holder. A holder on this host
   * whose process is gone is taken over at once.
   */
  staleAfter?: number
}

/** What the lock file says about its holder. */
interface Holder {
  /** The file's text as read, compared before a takeover. */
  raw: string
  /** Its modification time: the holder's last heartbeat. */
  mtimeMs: number
  pid?: number
  host?: string
}

const defaultStaleAfter = 30_000
/** The longest pause between two looks at a held lock: short enough that waiters follow a holder quickly. */
const maxPollDelay = 100

/** Sleeps, stopping at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted()
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function errorCode(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code
}

/** Whether a process of this host is alive: signal 0 checks without sending anything (EPERM: alive, not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // Anything but "no such process" (a runtime without signal 0, say) leaves the decision to the heartbeat.
    return errorCode(err) !== 'ESRCH'
  }
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const [raw, info] = await Promise.all([readFile(path, 'utf8'), stat(path)])
    const holder: Holder = { raw, mtimeMs: info.mtimeMs }
    try {
      const parsed = JSON.parse(raw) as { pid?: unknown; host?: unknown }
      if (typeof parsed.pid === 'number') holder.pid = parsed.pid
      if (typeof parsed.host === 'string') holder.host = parsed.host
    } catch {
      // Half written (its holder is between create and write) or garbage: judged by its time alone.
    }
    return holder
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined
    throw err
  }
}

/** Creates `path` only if it does not exist (O_EXCL: atomic, one winner) with `text`; false when it exists. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  let file: Awaited<ReturnType<typeof open>>
  try {
    file = await open(path, 'wx', 0o600)
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false
    throw err
  }
  try {
    await file.writeFile(text, 'utf8')
  } finally {
    await file.close()
  }
  return true
}

/**
 * A lock between processes (and within one) on a lock file: created exclusively, holding the holder's pid,
 * host and a nonce, its time refreshed as a heartbeat while held. Waiters look again after a short, growing
 * pause (never spinning); a lock whose holder is gone (same host, no such pid) or whose heartbeat stopped for
 * `staleAfter` is taken over, under a second exclusive file so that two waiters never both take it over.
 */
export function fileLock(
  lockPath: string,
  options: FileLockOptions = {},
): <T>(fn: () => Promise<T>, lockOptions?: LockOptions) => Promise<T> {
  const staleAfter = options.staleAfter ?? defaultStaleAfter
  if (typeof staleAfter !== 'number' || !(staleAfter > 0) || !Number.isFinite(staleAfter)) {
    throw new TypeError(`staleAfter must be a positive number of milliseconds, got ${String(staleAfter)}.`)
  }
  const guardPath = `${lockPath}.takeover`
  const host = hostname()

  const isStale = (holder: Holder): boolean =>
    (holder.host === host && holder.pid !== undefined && !processAlive(holder.pid)) ||
    Date.now() - holder.mtimeMs > staleAfter

  /** Removes `seen` if it is still the lock file, unchanged: under the guard, so that one waiter does it. */
  const takeOver = async (seen: Holder): Promise<boolean> => {
    const mine = JSON.stringify({ pid: process.pid, host })
    if (!(await createExclusive(guardPath, mine))) {
      // Another waiter is taking over; its guard is left behind only if it died within these few lines.
      const guard = await readHolder(guardPath)
      if (guard !== undefined && isStale(guard)) await rm(guardPath, { force: true })
      return false
    }
    try {
      const now = await readHolder(lockPath)
      // A changed time means the holder is alive after all (a heartbeat), a changed text a new holder.
      if (now !== undefined && now.raw === seen.raw && now.mtimeMs === seen.mtimeMs) {
        await rm(lockPath, { force: true })
      }
    } finally {
      await rm(guardPath, { force: true })
    }
    return true
  }

  const acquire = async (signal: AbortSignal | undefined): Promise<string> => {
    const text = JSON.stringify({
      pid: process.pid,
      host,
      nonce: randomBytes(12).toString('hex'),
      since: new Date().toISOString(),
    })
    await mkdir(dirname(lockPath), { recursive: true, mode: 0o700 })
    for (let delay = 2; ; delay = Math.min(delay * 2, maxPollDelay)) {
      signal?.throwIfAborted()
      if (await createExclusive(lockPath, text)) return text
      const holder = await readHolder(lockPath)
      if (holder === undefined) continue // released meanwhile: try again at once
      // After a takeover, try again at once; while another waiter takes over, wait like everyone else.
      if (isStale(holder) && (await takeOver(holder))) continue
      // Jitter, so that waiters released together do not all look at the same instant.
      await pause(delay / 2 + Math.random() * delay, signal)
    }
  }

  return async <T>(fn: () => Promise<T>, lockOptions: LockOptions = {}): Promise<T> => {
    const text = await acquire(lockOptions.signal)
    const ours = async (): Promise<boolean> =>
      (await readHolder(lockPath).catch(() => undefined))?.raw === text
    const heartbeat = setInterval(
      () => {
        void ours()
          .then((held) => {
            if (!held) return
            const now = new Date()
            return utimes(lockPath, now, now)
          })
          .catch(() => {})
      },
      Math.max(10, staleAfter / 3),
    )
    // The heartbeat alone must not keep a process alive (Node and Deno timers have unref).
    ;(heartbeat as { unref?: () => void }).unref?.()
    try {
      return await fn()
    } finally {
      clearInterval(heartbeat)
      // Only our own lock is removed: after a takeover (we were paused past staleAfter) it is someone else's.
      if (await ours()) await rm(lockPath, { force: true })
    }
  }
}
