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
    /** The token type the server sent, usually `Bearer`. */
    tokenType: v.optional(v.string()),
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
  }
}

/**
 * A store in Web Storage (`sessionStorage` or `localStorage`), for browsers (and Deno, which has both).
 * Prefer `sessionStorage`: it ends with the tab. Anything stored where page scripts can read it is exposed to
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
  return {
    get: () => parseStoredToken(storage.getItem(key)),
    set: (token) => storage.setItem(key, JSON.stringify(token)),
    delete: () => storage.removeItem(key),
  }
}
