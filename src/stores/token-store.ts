import * as v from 'valibot'

/**
 * A token set as a {@link TokenStore} keeps it: the token response's fields plus when it was obtained and when it
 * expires, as epoch milliseconds, so that another process or a reloaded page knows whether it is still good.
 *
 * @example
 * ```ts
 * const token = v.parse(storedTokenSchema, JSON.parse(text))
 * ```
 */
export const storedTokenSchema = /* @__PURE__ */ (() =>
  v.object({
    /** The access token. */
    accessToken: v.pipe(v.string(), v.minLength(1)),
    /** The token type the server sent: `Bearer`, or `DPoP` for a token bound to a key (RFC 9449). */
    tokenType: v.optional(v.string()),
    /** The RFC 7638 thumbprint of the DPoP key the token set was obtained with (RFC 9449 §6), if any. */
    jkt: v.optional(v.string()),
    /** The refresh token, when the server issued one (kept across refreshes that return none). */
    refreshToken: v.optional(v.pipe(v.string(), v.minLength(1))),
    /** The granted scopes, space-separated, when the server said. */
    scope: v.optional(v.string()),
    /** The OpenID Connect ID token, when the server issued one. */
    idToken: v.optional(v.string()),
    /** When the token request was sent (epoch ms): the token's lifetime counts from here. */
    obtainedAt: v.pipe(v.number(), v.finite()),
    /** When the access token expires (epoch ms); absent when the server sent no `expires_in`. */
    expiresAt: v.optional(v.pipe(v.number(), v.finite())),
    /**
     * Whom the token is for (endpoint, client id, scopes, audience): an authenticator ignores a stored token whose
     * binding is not its own, so one store shared by two configurations never hands out the wrong token.
     */
    binding: v.optional(v.string()),
  }))()

/**
 * A token set as kept in a {@link TokenStore}.
 *
 * @example
 * ```ts
 * const token: StoredToken = { accessToken, obtainedAt: Date.now(), expiresAt: Date.now() + 3_600_000 }
 * ```
 */
export type StoredToken = v.InferOutput<typeof storedTokenSchema>

/**
 * Where an authenticator keeps its token set between calls, page loads and process restarts (flytekit's
 * `KeyringStore`). Methods may be synchronous or return promises.
 *
 * @example
 * ```ts
 * // A store in a Redis-like key-value service
 * const store: TokenStore = {
 *   get: async () => parseStoredToken(await kv.get('token')),
 *   set: async (token) => kv.set('token', JSON.stringify(token)),
 *   delete: async () => kv.del('token'),
 * }
 * const auth = new ClientCredentialsAuthenticator({ issuer, clientId, clientSecret, store })
 * ```
 */
export interface TokenStore {
  /**
   * The stored token set, or `undefined` when there is none or what is there is not a valid token set (see
   * {@link parseStoredToken}). A failure of the storage itself may throw: `getAccessToken()` then rejects.
   */
  get(): StoredToken | undefined | Promise<StoredToken | undefined>
  /** Replaces the stored token set. */
  set(token: StoredToken): void | Promise<void>
  /** Removes the stored token set. */
  delete(): void | Promise<void>
  /**
   * Runs `fn` while holding a lock exclusive to everyone using this store: other processes, other tabs, other
   * authenticators in this process. Authenticators take it whenever they are about to obtain a token (refresh,
   * client credentials, device flow), re-read the store under it and send a request only when what is stored
   * is not good, so that a refresh token is redeemed once however many holders share it (rotation, RFC 9700
   * §4.14.2, invalidates the old one). Optional: a store without `lock` gets only the in-process single-flight
   * of each authenticator, and processes sharing it may each redeem the same refresh token.
   *
   * The lock must be released when `fn` settles, and waiting for it must stop when `signal` aborts (rejecting
   * with its reason).
   */
  lock?<T>(fn: () => Promise<T>, options?: LockOptions): Promise<T>
}

/**
 * Options of {@link TokenStore.lock}.
 *
 * @example
 * ```ts
 * await store.lock?.(async () => renew(), { signal: AbortSignal.timeout(60_000) })
 * ```
 */
export interface LockOptions {
  /** Stops waiting for the lock (the promise rejects with the signal's reason); a held lock is not affected. */
  signal?: AbortSignal | undefined
}

/**
 * An in-process lock: callers run one after the other, in order. A caller whose signal aborts while it waits
 * leaves the queue at once without breaking it.
 */
export function inProcessLock(): NonNullable<TokenStore['lock']> {
  let tail: Promise<unknown> = Promise.resolve()
  return async <T>(fn: () => Promise<T>, options: LockOptions = {}): Promise<T> => {
    const { signal } = options
    signal?.throwIfAborted()
    const previous = tail
    let release: () => void = () => {}
    const mine = new Promise<void>((resolve) => {
      release = resolve
    })
    tail = previous.then(() => mine)
    try {
      await waitOrAbort(previous, signal)
    } catch (err) {
      // Our turn is handed on as soon as the previous holder is done.
      void previous.then(release)
      throw err
    }
    try {
      return await fn()
    } finally {
      release()
    }
  }
}

/** Resolves when `promise` does, or rejects with the signal's reason as soon as it aborts. */
function waitOrAbort(promise: Promise<unknown>, signal: AbortSignal | undefined): Promise<unknown> {
  if (signal === undefined) return promise
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    void promise.then((value) => {
      signal.removeEventListener('abort', onAbort)
      resolve(value)
    })
  })
}

/**
 * Validates a token set read back from storage (JSON text or a parsed value). Anything unreadable, from an older
 * version or tampered with, is `undefined`: the authenticator then simply gets a new token.
 *
 * @param value - JSON text or an already parsed value.
 * @returns The token set, or `undefined`.
 *
 * @example
 * ```ts
 * const token = parseStoredToken(localStorage.getItem('token'))
 * ```
 */
export function parseStoredToken(value: unknown): StoredToken | undefined {
  let parsed = value
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value) as unknown
    } catch {
      return undefined
    }
  }
  const result = v.safeParse(storedTokenSchema, parsed)
  return result.success ? result.output : undefined
}

/**
 * A store that keeps the token set in memory only: the default. Each authenticator gets its own unless you share
 * one.
 *
 * @returns A new, empty store.
 *
 * @example
 * ```ts
 * const store = memoryStore()
 * const a = new ClientCredentialsAuthenticator({ issuer, clientId, clientSecret, store })
 * ```
 */
export function memoryStore(): TokenStore {
  let token: StoredToken | undefined
  return {
    get: () => token,
    set: (next) => {
      token = { ...next }
    },
    delete: () => {
      token = undefined
    },
    // Authenticators sharing this store renew one at a time: the second finds the first one's token.
    lock: inProcessLock(),
  }
}

/**
 * A store in Web Storage (`sessionStorage` or `localStorage`), for browsers (and Deno, which has both).
 * Prefer `sessionStorage`: it ends with the tab. Where the Web Locks API exists (Chromium, Firefox, Safari,
 * Deno) the store has a {@link TokenStore.lock} shared by every tab and worker of the origin (named
 * `token-client:<key>`), so tabs sharing `localStorage` redeem a rotating refresh token once; elsewhere it has
 * no lock. Anything stored where page scripts can read it is exposed to
 * cross-site scripting; keep refresh tokens out of `localStorage` unless the page's CSP is strict.
 *
 * @param storage - `sessionStorage`, `localStorage`, or anything with `getItem`/`setItem`/`removeItem`.
 * @param key - The storage key to keep the token set under.
 * @returns The store.
 *
 * @example
 * ```ts
 * const auth = new DeviceCodeAuthenticator({
 *   issuer: 'https://idp.example',
 *   clientId: 'my-spa',
 *   scopes: ['openid', 'offline_access'],
 *   store: webStorageStore(sessionStorage, 'my-spa.token'),
 *   onDeviceCode: (code) => showCode(code.userCode, code.verificationUri),
 * })
 * ```
 */
export function webStorageStore(
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>,
  key: string,
): TokenStore {
  const store: TokenStore = {
    get: () => parseStoredToken(storage.getItem(key)),
    set: (token) => storage.setItem(key, JSON.stringify(token)),
    delete: () => storage.removeItem(key),
  }
  const locks = (globalThis as { navigator?: { locks?: WebLocks } }).navigator?.locks
  if (locks !== undefined) {
    // Web Locks are per origin and held across tabs and workers; released when the callback settles or the
    // tab closes, so a closed tab never leaves a lock behind.
    const name = `token-client:${key}`
    // Chromium keeps a copy of localStorage in each tab and brings other tabs' writes over asynchronously: a tab
    // granted the lock just after another one wrote may still read the old token, and redeem its rotated
    // refresh token again. So a writer also holds a shared lock named after what it wrote, for a few seconds,
    // and the next holder of the lock waits (at most a second) until its storage shows that write. The lock
    // manager is one per origin, so what it says is never stale.
    const written = `${name}:written:`
    store.set = (token) => {
      storage.setItem(key, JSON.stringify(token))
      void locks.request(`${written}${token.obtainedAt}`, { mode: 'shared' }, () => pause(5000))
    }
    const catchUp = async (): Promise<void> => {
      const { held = [] } = await locks.query()
      let newest = Number.NEGATIVE_INFINITY
      for (const lock of held) {
        if (lock.name?.startsWith(written)) newest = Math.max(newest, Number(lock.name.slice(written.length)))
      }
      const deadline = Date.now() + 1000
      while ((parseStoredToken(storage.getItem(key))?.obtainedAt ?? Number.NEGATIVE_INFINITY) < newest) {
        if (Date.now() > deadline) return
        await pause(5)
      }
    }
    store.lock = <T>(fn: () => Promise<T>, options: LockOptions = {}): Promise<T> => {
      const held = async (): Promise<T> => {
        await catchUp()
        return fn()
      }
      return options.signal === undefined
        ? locks.request(name, held)
        : locks.request(name, { signal: options.signal }, held)
    }
  }
  return store
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The part of the Web Locks API (`navigator.locks`) used here. */
interface WebLocks {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>
  request<T>(
    name: string,
    options: { signal?: AbortSignal; mode?: 'exclusive' | 'shared' },
    callback: () => Promise<T>,
  ): Promise<T>
  query(): Promise<{ held?: Array<{ name?: string }> }>
}
