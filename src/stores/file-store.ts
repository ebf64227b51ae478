import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { type FileLockOptions, fileLock } from './file-lock.ts'
import { inProcessLock, parseStoredToken, type TokenStore } from './token-store.ts'

export type { FileLockOptions } from './file-lock.ts'

/** One in-process queue per token file: authenticators of one process wait in memory, not on the file. */
const inProcessQueues = new Map<string, NonNullable<TokenStore['lock']>>()

/**
 * A store in a JSON file, for Node (CLIs, scripts, services that restart). The file is created with mode 0600
 * (owner only; its directory, when created, 0700) and written atomically: to a temporary file in the same
 * directory, flushed to disk, then renamed over the old one, so a reader never sees half a token and a crash
 * never leaves one. A missing file, or one that is not a valid token set, reads as "no token"; a file that
 * cannot be read (permissions) is an error.
 *
 * Its {@link TokenStore.lock} is a lock file beside the token file (`<path>.lock`), exclusive to every process
 * on the machine (and to every store of that path in this process) and usable from Deno too: created
 * exclusively, holding pid, host name and a timestamp the holder refreshes while it holds the lock. A holder
 * that died is taken over at once on the same host, or after `staleAfter` without a heartbeat (default 30 s).
 * Waiting honours the authenticator's `signal` and never spins the CPU.
 *
 * @param path - The file to keep the token set in, e.g. `~/.config/my-cli/token.json`.
 * @param options - `staleAfter`: milliseconds without a heartbeat after which a lock is taken over.
 * @returns The store.
 *
 * @example
 * ```ts
 * import { DeviceCodeAuthenticator } from 'token-client'
 * import { fileStore } from 'token-client/node'
 *
 * const auth = new DeviceCodeAuthenticator({
 *   issuer: 'https://idp.example',
 *   clientId: 'my-cli',
 *   scopes: ['openid', 'offline_access'],
 *   store: fileStore(`${process.env.HOME}/.config/my-cli/token.json`),
 *   onDeviceCode: ({ verificationUri, userCode }) => console.error(`Open ${verificationUri}, code ${userCode}`),
 * })
 * ```
 */
export function fileStore(path: string, options: FileLockOptions = {}): TokenStore {
  const key = resolve(path)
  let queue = inProcessQueues.get(key)
  if (queue === undefined) {
    queue = inProcessLock()
    inProcessQueues.set(key, queue)
  }
  const inProcess = queue
  const onFile = fileLock(`${path}.lock`, options)
  return {
    lock: (fn, lockOptions) => inProcess(() => onFile(fn, lockOptions), lockOptions),
    async get() {
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ENOENT') return undefined
        throw err
      }
      return parseStoredToken(text)
    },
    async set(token) {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 })
      await writeFileAtomically(path, `${JSON.stringify(token)}\n`)
    },
    async delete() {
      await rm(path, { force: true })
    },
  }
}

/**
 * Writes `text` to `path` (mode 0600) atomically: to a temporary file in the same directory, flushed, then renamed
 * over the old one, so a reader never sees half of it and a crash never leaves an empty file. Internal (the file
 * store and the CLI's config.json).
 */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  // Same directory, so rename(2) replaces the file atomically; 'wx' refuses to follow a planted file.
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const file = await open(temporary, 'wx', 0o600)
    try {
      await file.writeFile(text, 'utf8')
      // On disk before the rename: otherwise a crash may leave the new name on an empty file.
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temporary, path)
  } catch (err) {
    await rm(temporary, { force: true }).catch(() => {})
    throw err
  }
}
