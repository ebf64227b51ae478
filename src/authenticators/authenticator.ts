import { GrantType } from '../protocol/constants.ts'
import type { DPoPHandle } from '../protocol/dpop.ts'
import { AuthenticationError } from '../protocol/errors.ts'
import { revokeToken } from '../protocol/revocation.ts'
import type { TokenResponse } from '../protocol/schemas.ts'
import { type GetTokenOptions, getToken } from '../protocol/token.ts'
import { isLoopbackHost, resolveFetch, type TransportOptions } from '../protocol/transport.ts'
import { memoryStore, type StoredToken, type TokenStore } from '../stores/token-store.ts'
import { defaultSkewSeconds, isTokenUsable, tokenBinding } from '../stores/token-validity.ts'
import { type AuthenticatorEndpoints, resolveEndpoints } from './endpoints.ts'

export type { AuthenticatorEndpoints } from './endpoints.ts'

/**
 * What every authenticator is built from: where the server is, who the client is, what to ask for, where to
 * keep the token, and the transport options of every request.
 *
 * @example
 * ```ts
 * const common: AuthenticatorOptions = { issuer: 'https://idp.example', clientId: 'my-cli', skew: 60 }
 * ```
 */
export interface AuthenticatorOptions extends TransportOptions {
  /**
   * The issuer: its endpoints are found with {@link discover} on first use. Give this or the endpoints
   * (explicit endpoints win over discovered ones; with all of them given, nothing is discovered).
   */
  issuer?: string | URL
  /** The token endpoint, when not discovered from `issuer`. */
  tokenEndpoint?: string | URL
  /** The client id. */
  clientId: string
  /** Scopes to request. */
  scopes?: string[]
  /** Audience of the token (sent as `audience`, as Auth0, Okta and Flyte expect). */
  audience?: string
  /** Where the token set is kept; default {@link memoryStore} (this authenticator only). */
  store?: TokenStore
  /**
   * Seconds before expiry at which a token counts as expired, so that it is not sent just as it runs out
   * (default 30). It is capped at half the token's lifetime, so a short-lived token is still reused.
   */
  skew?: number
  /**
   * Binds every token to this DPoP key (RFC 9449): each token request (grant, device poll, code exchange,
   * refresh) carries a proof by it, `token_type` `DPoP` is accepted, and {@link Authenticator.fetch} sends
   * `Authorization: DPoP` with a proof per request. A promise is awaited on first use (e.g.
   * {@link indexedDbDPoP} in browsers). Without it, a DPoP token is refused. The DPoP code is imported only by
   * who calls {@link createDPoP}: apps without DPoP do not ship it.
   */
  dpop?: DPoPHandle | Promise<DPoPHandle>
}

/**
 * What {@link Authenticator.obtain} hands back: the token response, and when its lifetime started.
 *
 * @example
 * ```ts
 * const obtainedAt = Date.now()
 * const obtained: ObtainedToken = { response: await getToken(tokenEndpoint, request), obtainedAt }
 * ```
 */
export interface ObtainedToken {
  /** The token endpoint's answer. */
  response: TokenResponse
  /**
   * Epoch ms no later than when the server issued the token: when the request that got it was sent (for a
   * device flow, when the poll before it was answered). `expires_in` counts from here (RFC 6749 §5.1), so the
   * token is never believed to live longer than it does.
   */
  obtainedAt: number
}

/**
 * How a client authenticates its refresh and revocation requests (see
 * {@link Authenticator.clientAuthentication}): `clientId` alone for a public client, else a Basic
 * `authorizationHeader`, `clientId` + `clientSecret` in the body, or `clientId` + `clientAssertion` (RFC 7523).
 *
 * @example
 * ```ts
 * const publicClient: ClientAuthenticationFields = { clientId: 'my-cli' }
 * ```
 */
export type ClientAuthenticationFields = Pick<
  GetTokenOptions,
  'clientId' | 'authorizationHeader' | 'clientSecret' | 'clientAssertion'
>

/**
 * What {@link Authenticator.signOut} did: whether the server revoked the tokens (RFC 7009), and why not.
 * The local session is cleared in every case.
 *
 * @example
 * ```ts
 * const { revoked, error } = await auth.signOut()
 * if (!revoked && error) showWarning('Signed out here; the server could not be told.')
 * ```
 */
export interface SignOutResult {
  /** True when the revocation endpoint accepted every token sent to it. */
  revoked: boolean
  /** Why revocation did not happen: the server has no revocation endpoint, or the request failed. */
  error?: AuthenticationError
}

/**
 * Options of {@link Authenticator.getAccessToken}.
 *
 * @example
 * ```ts
 * const token = await auth.getAccessToken({ signal: AbortSignal.timeout(5_000) })
 * ```
 */
export interface GetAccessTokenOptions {
  /**
   * Stops waiting for the token (this caller only: a request other callers share goes on). Abort the
   * `signal` given to the constructor to cancel the requests themselves.
   */
  signal?: AbortSignal | null
}

const transportKeys = [
  'httpProxyUrl',
  'verify',
  'clientCert',
  'session',
  'adapter',
  'signal',
  'timeout',
  'allowInsecureHttp',
] as const satisfies ReadonlyArray<keyof TransportOptions>

/** Only the transport fields of an options object, so that no other option leaks into a request. */
function pickTransport(options: TransportOptions): TransportOptions {
  const out: Record<string, unknown> = {}
  for (const key of transportKeys) if (options[key] !== undefined) out[key] = options[key]
  return out as TransportOptions
}

/**
 * Whether a `fetch` body can be sent a second time: everything but a stream or an (async) iterable, which are
 * read as they are sent.
 */
function replayable(body: RequestInit['body'] | undefined): boolean {
  return (
    body == null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof FormData
  )
}

/** Resolves with the promise, or rejects as soon as the signal aborts (the promise itself goes on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (signal == null) return promise
  signal.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

/**
 * The layer above the token functions (flytekit's `Authenticator`): keeps a token set, hands out the access
 * token until it is within `skew` of expiry, gets a new one when needed with exactly one request however many
 * callers wait for it, and keeps it in a {@link TokenStore}. See {@link ClientCredentialsAuthenticator} and
 * {@link DeviceCodeAuthenticator}.
 *
 * @example
 * ```ts
 * const auth = new ClientCredentialsAuthenticator({ issuer, clientId, clientSecret, scopes: ['api:read'] })
 * const response = await auth.fetch('https://api.example/items')
 * ```
 */
export abstract class Authenticator {
  /** The transport options every request of this authenticator uses. */
  protected readonly transport: TransportOptions
  /** The client id. */
  readonly clientId: string
  /** The scopes requested. */
  readonly scopes: readonly string[]
  /** The audience requested, if any. */
  readonly audience: string | undefined
  readonly #issuer: string | URL | undefined
  readonly #explicit: Partial<AuthenticatorEndpoints>
  readonly #required: ReadonlyArray<keyof AuthenticatorEndpoints>
  readonly #store: TokenStore
  readonly #skewMs: number
  readonly #binding: string
  readonly #dpop: Promise<DPoPHandle> | undefined
  #current: StoredToken | undefined
  #inflight: Promise<StoredToken> | undefined
  #endpoints: Promise<AuthenticatorEndpoints> | undefined

  /**
   * @param options - Server, client, scopes, store, skew and transport options.
   * @param explicit - The endpoints given explicitly.
   * @param required - The endpoints the subclass sends to: discovery is skipped when all are given.
   */
  protected constructor(
    options: AuthenticatorOptions,
    explicit: Partial<AuthenticatorEndpoints>,
    required: ReadonlyArray<keyof AuthenticatorEndpoints> = ['tokenEndpoint'],
  ) {
    if (typeof options.clientId !== 'string' || options.clientId === '') {
      throw new TypeError('clientId must be a non-empty string.')
    }
    if (options.issuer === undefined) {
      const missing = required.find((name) => explicit[name] === undefined)
      if (missing !== undefined) {
        throw new TypeError(`Give the issuer (to discover the endpoints) or the ${missing}.`)
      }
    }
    const skew = options.skew ?? defaultSkewSeconds
    if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0) {
      throw new TypeError(`skew must be a non-negative number of seconds, got ${String(skew)}.`)
    }
    this.transport = pickTransport(options)
    this.clientId = options.clientId
    this.scopes = [...(options.scopes ?? [])]
    this.audience = options.audience
    this.#issuer = options.issuer
    this.#explicit = explicit
    this.#required = required
    this.#store = options.store ?? memoryStore()
    this.#skewMs = skew * 1000
    const dpop = options.dpop && Promise.resolve(options.dpop)
    // A failure to get the key is thrown by the first request that needs it, not reported unhandled now.
    dpop?.catch(() => {})
    this.#dpop = dpop
    this.#binding = tokenBinding(
      explicit.tokenEndpoint ?? options.issuer,
      options.clientId,
      this.scopes,
      options.audience,
    )
  }

  /**
   * Gets a new token set. `previous` is the last one known (expired or rejected), e.g. for its refresh token.
   * Called by one caller at a time.
   *
   * @example
   * ```ts
   * protected override async obtain(endpoints: AuthenticatorEndpoints): Promise<ObtainedToken> {
   *   const obtainedAt = Date.now()
   *   return { response: await getToken(endpoints.tokenEndpoint, this.request), obtainedAt }
   * }
   * ```
   */
  protected abstract obtain(
    endpoints: AuthenticatorEndpoints,
    previous: StoredToken | undefined,
  ): Promise<ObtainedToken>

  /**
   * How refresh and revocation requests authenticate the client. Default: a public client, identified by
   * `client_id` (RFC 6749 §2.3, §6; RFC 7009 §2.1).
   *
   * @example
   * ```ts
   * protected override clientAuthentication(): ClientAuthenticationFields {
   *   return { authorizationHeader: getBasicAuthorizationHeader(this.clientId, secret) }
   * }
   * ```
   */
  protected clientAuthentication(): ClientAuthenticationFields {
    return { clientId: this.clientId }
  }

  /**
   * Whether a stored refresh token is used (RFC 6749 §6) before {@link Authenticator.obtain}: default true. A
   * refresh refused with `invalid_grant` falls back to `obtain`.
   *
   * @example
   * ```ts
   * protected override usesRefreshTokens(): boolean {
   *   return false // RFC 6749 §4.4.3: client credentials get no refresh token
   * }
   * ```
   */
  protected usesRefreshTokens(): boolean {
    return true
  }

  /**
   * The `dpop` option of every token request (RFC 9449 §5): `{ dpop }` when the authenticator binds its tokens
   * to a key, else `{}`. Subclasses spread it into their grant requests.
   *
   * @example
   * ```ts
   * const response = await getToken(endpoints.tokenEndpoint, { ...this.transport, ...(await this.dpopOptions()) })
   * ```
   */
  protected async dpopOptions(): Promise<{ dpop?: DPoPHandle }> {
    const dpop = await this.#dpop
    return dpop ? { dpop } : {}
  }

  /**
   * The endpoints, given or discovered (once; a failed discovery is tried again next time).
   *
   * @example
   * ```ts
   * const { authorizationEndpoint } = await this.endpoints()
   * ```
   */
  protected endpoints(): Promise<AuthenticatorEndpoints> {
    if (this.#endpoints === undefined) {
      const pending = resolveEndpoints(this.#issuer, this.#explicit, this.#required, this.transport)
      this.#endpoints = pending
      // A failed discovery is tried again on the next call, not remembered.
      pending.catch(() => {
        if (this.#endpoints === pending) this.#endpoints = undefined
      })
    }
    return this.#endpoints
  }

  /**
   * The issuer identifier that authorization responses must name (RFC 9207): the discovered metadata's, else
   * the `issuer` option.
   */
  protected expectedIssuer(endpoints: AuthenticatorEndpoints): string | undefined {
    if (endpoints.issuer !== undefined) return endpoints.issuer
    const issuer = this.#issuer
    // A URL cannot express an issuer without a path: its href always ends in "/", an issuer rarely does.
    return typeof issuer === 'string' || issuer === undefined
      ? issuer
      : issuer.pathname === '/'
        ? issuer.href.slice(0, -1)
        : issuer.href
  }

  /**
   * Keeps a token set obtained outside {@link Authenticator.getAccessToken} (a redirect's code exchange): checked
   * like every other, written to the store under its lock, and used from then on.
   *
   * @example
   * ```ts
   * const obtainedAt = Date.now()
   * await this.keep({ response: await getToken(tokenEndpoint, codeRequest), obtainedAt })
   * ```
   */
  protected keep(obtained: ObtainedToken): Promise<StoredToken> {
    const store = this.#store
    const save = (): Promise<StoredToken> => this.#save(obtained)
    return store.lock === undefined ? save() : store.lock(save, { signal: this.transport.signal })
  }

  /**
   * Signs out: revokes the refresh token and the access token at the server's revocation endpoint (RFC 7009,
   * when it has one), then removes the token set from memory and from the store. A failed revocation still
   * clears the local session, and is reported in the result rather than thrown.
   *
   * @returns Whether the server revoked the tokens, and if not, why.
   *
   * @example
   * ```ts
   * const { revoked } = await auth.signOut()
   * ```
   */
  async signOut(): Promise<SignOutResult> {
    await this.#adoptStored()
    const current = this.#current
    let result: SignOutResult = { revoked: false }
    try {
      if (current !== undefined) {
        const { revocationEndpoint } = await this.endpoints()
        if (revocationEndpoint === undefined) {
          result.error = new AuthenticationError(
            'The authorization server has no revocation endpoint (RFC 7009): the tokens stay valid until they expire. Pass revocationEndpoint if it has one.',
          )
        } else {
          const request = { ...this.transport, ...this.clientAuthentication() }
          // The refresh token first: revoking it revokes the grant, and with it the access token, at most servers.
          const grantRevoked = current.refreshToken !== undefined
          if (current.refreshToken !== undefined) {
            await revokeToken(revocationEndpoint, current.refreshToken, {
              ...request,
              tokenTypeHint: 'refresh_token',
            })
          }
          try {
            await revokeToken(revocationEndpoint, current.accessToken, {
              ...request,
              tokenTypeHint: 'access_token',
            })
          } catch (err) {
            // RFC 7009 §2.2: an already invalid token is answered 200, but some servers (better-auth) answer 400
            // for the access token that the refresh token's revocation just took with it.
            if (!(grantRevoked && err instanceof AuthenticationError && err.status === 400)) throw err
          }
          result = { revoked: true }
        }
      }
    } catch (err) {
      result = {
        revoked: false,
        error:
          err instanceof AuthenticationError
            ? err
            : new AuthenticationError('Revoking the tokens failed.', { cause: err }),
      }
    }
    await this.clear()
    return result
  }

  /**
   * An access token: the cached one while it is more than `skew` from expiry (a token without `expires_in`
   * until {@link invalidate} or a 401 in {@link fetch} rejects it), else the stored one if another process or
   * page stored a good one, else a new one. Concurrent callers share one request.
   *
   * @param options - `signal` stops this caller's wait.
   * @returns The access token.
   * @throws {@link AuthenticationError} when no token could be obtained.
   *
   * @example
   * ```ts
   * const token = await auth.getAccessToken()
   * await fetch(url, { headers: { authorization: `Bearer ${token}` } })
   * ```
   */
  async getAccessToken(options: GetAccessTokenOptions = {}): Promise<string> {
    return (await this.#token(options.signal)).accessToken
  }

  async #token(signal: AbortSignal | null | undefined): Promise<StoredToken> {
    const current = this.#current
    if (current !== undefined && isTokenUsable(current, this.#skewMs)) return current
    if (this.#inflight === undefined) {
      const flight = this.#renew()
      this.#inflight = flight
      // Cleared when settled, success or failure: a failed flight must not poison later calls.
      flight.then(
        () => this.#settle(flight),
        () => this.#settle(flight),
      )
    }
    return abortable(this.#inflight, signal)
  }

  /**
   * Marks the access token as no longer good (a resource server said 401), in memory and in the store; the
   * refresh token is kept. Does nothing when `accessToken` is given and is not the current token (another
   * caller already replaced it).
   *
   * @param accessToken - The token that was rejected; default the current one.
   *
   * @example
   * ```ts
   * const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
   * if (res.status === 401) await auth.invalidate(token)
   * ```
   */
  async invalidate(accessToken?: string): Promise<void> {
    const current = this.#current
    if (current === undefined || (accessToken !== undefined && accessToken !== current.accessToken)) return
    // Expired from the moment it was obtained: unusable here, and for any other process reading the store.
    const expired: StoredToken = { ...current, expiresAt: current.obtainedAt }
    this.#current = expired
    await this.#store.set(expired)
  }

  /**
   * Removes the token set from memory and from the store (sign out locally; the server's tokens stay valid
   * until they expire or are revoked).
   *
   * @example
   * ```ts
   * await auth.clear()
   * ```
   */
  async clear(): Promise<void> {
    this.#current = undefined
    await this.#store.delete()
  }

  /**
   * `fetch` with the access token: `Authorization: Bearer <token>` (RFC 6750 §2.1), or for a DPoP-bound token
   * `Authorization: DPoP <token>` with a fresh proof of this request (RFC 9449 §7.1: `htm`, `htu` without query
   * and fragment, `ath` of the token). A resource server's nonce challenge (401 with `WWW-Authenticate: DPoP
   * error="use_dpop_nonce"` and a `DPoP-Nonce`, §9) is answered once with a proof carrying its nonce, which is
   * then remembered for that origin. On another 401 it gets a fresh token once and sends the request once more.
   * Neither retry happens when the body cannot be sent twice (a `ReadableStream` or an async iterable); the
   * last answer is returned whatever it is. Uses the authenticator's fetch adapter, when it has one.
   *
   * @param input - URL or `Request`, as for `fetch`.
   * @param init - As for `fetch`; its `signal` also stops the wait for a token.
   * @returns The response.
   *
   * @example
   * ```ts
   * const res = await auth.fetch('https://api.example/items', { method: 'POST', body: JSON.stringify(item) })
   * ```
   */
  async fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const fetchFn = resolveFetch(this.transport) ?? globalThis.fetch
    const signal = init.signal ?? (input instanceof Request ? input.signal : undefined)
    const bodySentOnce = !replayable(init.body)
    // A Request's own body (used when init has none) can be sent only once: each attempt sends a clone (the
    // platform tees the body), so the original stays readable for the next one.
    const target = (): RequestInfo | URL =>
      !bodySentOnce && init.body == null && input instanceof Request && input.body !== null
        ? input.clone()
        : input
    const url = this.#checkResourceUrl(input)
    const send = async (token: StoredToken): Promise<Response> => {
      const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined))
      // Stored with the key's thumbprint only when DPoP-bound (RFC 9449 §7.1: then the DPoP scheme and a proof).
      const dpop = token.jkt && (await this.#dpop)
      headers.set('authorization', `${dpop ? 'DPoP' : 'Bearer'} ${token.accessToken}`)
      let sent: Response | undefined
      const once = async (proof?: string): Promise<Response> => {
        if (proof) headers.set('dpop', proof)
        // A body read as it is sent goes once: a nonce challenge to it is the answer (withProof's retry gets it).
        if (!(sent && bodySentOnce)) sent = await fetchFn(target(), { ...init, headers })
        return sent
      }
      const method = init.method ?? (input instanceof Request ? input.method : 'GET')
      return dpop ? dpop.withProof(method, url, once, token.accessToken) : once()
    }

    const token = await this.#token(signal)
    const response = await send(token)
    if (response.status !== 401) return response
    // RFC 6750 §3.1: 401 means the token is not (or no longer) good; the next caller gets a fresh one.
    await this.invalidate(token.accessToken)
    if (bodySentOnce) return response
    await response.body?.cancel().catch(() => {})
    return send(await this.#token(signal))
  }

  /**
   * RFC 6750 §5.3: bearer tokens go only over TLS. The same rule as the token endpoints: `https:`, or `http:`
   * to loopback or with `allowInsecureHttp`. Redirects are left to fetch, which drops `Authorization` when one
   * leads to another origin (Fetch standard, HTTP-redirect fetch).
   */
  #checkResourceUrl(input: RequestInfo | URL): URL {
    const url = new URL(
      input instanceof Request ? input.url : input,
      (globalThis as { location?: { href: string } }).location?.href,
    )
    if (url.protocol === 'http:' && !this.transport.allowInsecureHttp && !isLoopbackHost(url.hostname)) {
      throw new TypeError(
        `authenticator.fetch sends the access token only over https, not in clear text to http://${url.host} (RFC 6750 §5.3): use https, or pass { allowInsecureHttp: true } to the authenticator on a trusted network.`,
      )
    }
    return url
  }

  #settle(flight: Promise<StoredToken>): void {
    if (this.#inflight === flight) this.#inflight = undefined
  }

  /**
   * Renews under the store's lock (RFC 9700 §4.14.2: a rotated refresh token is good once, so whoever shares
   * the store must not redeem it twice): take the lock, re-read the store (another holder may have renewed while
   * we waited), and only when nothing good is there send a request and write what it got.
   */
  #renew(): Promise<StoredToken> {
    const store = this.#store
    if (store.lock === undefined) return this.#renewHoldingLock()
    return store.lock(() => this.#renewHoldingLock(), { signal: this.transport.signal })
  }

  async #renewHoldingLock(): Promise<StoredToken> {
    await this.#adoptStored()
    const previous = this.#current
    if (previous !== undefined && isTokenUsable(previous, this.#skewMs)) return previous

    const endpoints = await this.endpoints()
    let obtained: ObtainedToken | undefined
    const refreshToken = previous?.refreshToken
    if (refreshToken !== undefined && this.usesRefreshTokens()) {
      try {
        obtained = await this.#refresh(endpoints, refreshToken)
      } catch (err) {
        // RFC 6749 §5.2 invalid_grant: the refresh token is expired, revoked, or already rotated by a holder
        // that did not share our lock. Any other failure (network, timeout, 5xx, 429) is thrown and the stored
        // refresh token stays as it is.
        if (!(err instanceof AuthenticationError && err.error === 'invalid_grant')) throw err
        await this.#adoptStored()
        const newer = this.#current
        if (newer !== undefined && newer !== previous && isTokenUsable(newer, this.#skewMs)) return newer
      }
    }
    obtained ??= await this.obtain(endpoints, this.#current)
    return this.#save(obtained)
  }

  async #save({ response, obtainedAt }: ObtainedToken): Promise<StoredToken> {
    // RFC 6749 §7.1: a client must not use a token whose type it does not understand; this one sends Bearer
    // (RFC 6750) and DPoP (RFC 9449 §7.1). A server that omits token_type is read as Bearer.
    // A Bearer token from a server that ignored the proof is used as such (RFC 9449 §5).
    const type = response.tokenType ?? 'Bearer'
    const dpop = /^dpop$/i.test(type) ? await this.#dpop : undefined
    if (!dpop && !/^bearer$/i.test(type)) {
      throw new AuthenticationError(
        `The token endpoint issued a token of type "${type}": this authenticator uses Bearer tokens, and DPoP ones with the dpop option (RFC 6750, RFC 9449).`,
      )
    }
    const next: StoredToken = {
      accessToken: response.accessToken,
      tokenType: type,
      obtainedAt,
      binding: this.#binding,
    }
    // The key's thumbprint: a reload with another key must not take a token (or refresh token) bound to this one.
    if (dpop) next.jkt = dpop.jkt
    if (response.expiresIn !== undefined) next.expiresAt = obtainedAt + response.expiresIn * 1000
    if (response.refreshToken !== undefined) next.refreshToken = response.refreshToken
    if (response.scope !== undefined) next.scope = response.scope
    if (response.idToken !== undefined) next.idToken = response.idToken
    this.#current = next
    await this.#store.set(next)
    return next
  }

  /** Takes the stored token set when it is ours and newer than the one in memory. */
  async #adoptStored(): Promise<void> {
    const stored = await this.#store.get()
    if (
      stored !== undefined &&
      stored.binding === this.#binding &&
      // A DPoP-bound token set only with its key (RFC 9449 §6).
      (stored.jkt === undefined || stored.jkt === (await this.#dpop)?.jkt) &&
      (this.#current === undefined || stored.obtainedAt > this.#current.obtainedAt)
    ) {
      this.#current = stored
    }
  }

  async #refresh(endpoints: AuthenticatorEndpoints, refreshToken: string): Promise<ObtainedToken> {
    const request: GetTokenOptions = {
      ...this.transport,
      ...this.clientAuthentication(),
      ...(await this.dpopOptions()),
      grantType: GrantType.REFRESH_TOKEN,
      refreshToken,
      audience: this.audience,
    }
    const obtainedAt = Date.now()
    const refreshed = await getToken(endpoints.tokenEndpoint, request)
    // RFC 6749 §6: the server may issue a new refresh token; if it does not, the old one stays good.
    return {
      response: refreshed.refreshToken === undefined ? { ...refreshed, refreshToken } : refreshed,
      obtainedAt,
    }
  }
}
