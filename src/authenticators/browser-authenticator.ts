import * as v from 'valibot'
import { buildAuthorizationUrl, parseAuthorizationResponse } from '../protocol/authorization.ts'
import { GrantType } from '../protocol/constants.ts'
import { AuthenticationError } from '../protocol/errors.ts'
import { base64UrlEncode, createPkce } from '../protocol/pkce.ts'
import { getToken } from '../protocol/token.ts'
import { type StoredToken, webStorageStore } from '../stores/token-store.ts'
import {
  Authenticator,
  type AuthenticatorEndpoints,
  type AuthenticatorOptions,
  type ObtainedToken,
} from './authenticator.ts'

/**
 * Options of {@link BrowserAuthenticator}.
 *
 * @example
 * ```ts
 * const options: BrowserAuthenticatorOptions = {
 *   issuer: 'https://idp.example',
 *   clientId: 'my-spa',
 *   redirectUri: `${location.origin}/callback`,
 *   scopes: ['openid', 'offline_access', 'api:read'],
 * }
 * ```
 */
export interface BrowserAuthenticatorOptions extends AuthenticatorOptions {
  /** Where the server sends the browser back (registered with the server exactly, RFC 6749 §3.1.2). */
  redirectUri: string
  /** The authorization endpoint, when not discovered from `issuer`. */
  authorizationEndpoint?: string | URL
  /** The revocation endpoint for {@link Authenticator.signOut}, when not discovered from `issuer`. */
  revocationEndpoint?: string | URL
  /**
   * Where the pending sign-in (PKCE verifier and state) is kept across the redirect: default `sessionStorage`,
   * which belongs to the tab and is never part of a URL.
   */
  pendingStorage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
}

/**
 * Options of {@link BrowserAuthenticator.signIn}.
 *
 * @example
 * ```ts
 * await auth.signIn({ appState: { returnTo: location.pathname }, prompt: 'login' })
 * ```
 */
export interface SignInOptions {
  /** Anything JSON can hold, handed back by {@link BrowserAuthenticator.handleRedirect} (e.g. where to return). */
  appState?: unknown
  /**
   * OpenID Connect `prompt` (`login`, `consent`, `select_account`, `none`). Many OpenID Connect servers
   * (oidc-provider among them) grant `offline_access`, and so issue a refresh token, only with
   * `prompt: 'consent'` (OpenID Connect Core §11): without one, the session ends when the access token expires.
   */
  prompt?: string
  /** OpenID Connect `login_hint`: the user's name or e-mail, to prefill the login page. */
  loginHint?: string
}

/**
 * What {@link BrowserAuthenticator.handleRedirect} hands back after a sign-in completed.
 *
 * @example
 * ```ts
 * const done: RedirectResult | undefined = await auth.handleRedirect()
 * if (done) history.replaceState(null, '', (done.appState as { returnTo: string }).returnTo)
 * ```
 */
export interface RedirectResult {
  /** The `appState` given to {@link BrowserAuthenticator.signIn}. */
  appState?: unknown
}

/** The sign-in in progress, kept in the tab's storage across the redirect (never in the URL). */
const pendingSchema = /* @__PURE__ */ (() =>
  v.object({
    state: v.string(),
    codeVerifier: v.string(),
    redirectUri: v.string(),
    appState: v.optional(v.unknown()),
  }))()

/** The callback parameters the address bar loses once the callback is handled. */
const callbackParams = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state']

/**
 * Sign-in with the browser for single-page apps: the authorization code flow with PKCE (RFC 6749 §4.1,
 * RFC 7636; the OAuth 2.0 for Browser-Based Apps BCP), then refresh tokens. Call {@link signIn} to leave for
 * the server's login page, {@link handleRedirect} on every page load to finish a sign-in when the page is the
 * callback, and {@link Authenticator.getAccessToken} / {@link Authenticator.fetch} as with any authenticator.
 * It never navigates by itself: when the session cannot be renewed, `getAccessToken()` throws an
 * {@link AuthenticationError} with `error: 'login_required'`.
 *
 * The token set is kept in `webStorageStore(sessionStorage, …)` by default (the tab's; a reload stays signed
 * in); give `store: webStorageStore(localStorage, …)` to share it between tabs (they then renew under one
 * Web Lock). The PKCE verifier and `state` stay in `sessionStorage` only while the redirect is under way.
 *
 * @example
 * ```ts
 * const auth = new BrowserAuthenticator({
 *   issuer: 'https://idp.example',
 *   clientId: 'my-spa',
 *   redirectUri: `${location.origin}/`,
 *   scopes: ['openid', 'offline_access', 'api:read'],
 * })
 * await auth.handleRedirect()
 * signInButton.onclick = () => auth.signIn({ prompt: 'consent' }) // consent: offline_access, a refresh token
 * const items = await (await auth.fetch('https://api.example/items')).json()
 * ```
 */
export class BrowserAuthenticator extends Authenticator {
  /** The redirect URI sent to the server. */
  readonly redirectUri: string
  readonly #pendingKey: string
  readonly #doneKey: string
  readonly #pendingStorage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined
  /** Origin and path of the redirect URI: only a page there can be the callback. */
  readonly #callbackPath: string
  #handling: { href: string; result: Promise<RedirectResult | undefined> } | undefined

  /**
   * @param options - Issuer or endpoints, client id, redirect URI, scopes, audience, store, skew and transport
   *   options.
   * @throws `TypeError` when an option is missing or invalid.
   */
  constructor(options: BrowserAuthenticatorOptions) {
    const explicit: Partial<AuthenticatorEndpoints> = {}
    if (options.tokenEndpoint !== undefined) explicit.tokenEndpoint = options.tokenEndpoint
    if (options.authorizationEndpoint !== undefined)
      explicit.authorizationEndpoint = options.authorizationEndpoint
    if (options.revocationEndpoint !== undefined) explicit.revocationEndpoint = options.revocationEndpoint
    const storage = (globalThis as { sessionStorage?: Storage }).sessionStorage
    const key = `token-client:${options.clientId}`
    super(
      options.store !== undefined || storage === undefined
        ? options
        : { ...options, store: webStorageStore(storage, `${key}:token`) },
      explicit,
      ['tokenEndpoint', 'authorizationEndpoint'],
    )
    const redirect =
      typeof options.redirectUri === 'string' && !options.redirectUri.includes('#')
        ? parseUrl(options.redirectUri)
        : undefined
    if (redirect === undefined) {
      throw new TypeError(
        'redirectUri is required: the absolute URL, without a fragment, that the server sends the browser back to.',
      )
    }
    this.redirectUri = options.redirectUri
    this.#callbackPath = `${redirect.origin}${redirect.pathname}`
    this.#pendingKey = `${key}:pending`
    this.#doneKey = `${key}:done`
    this.#pendingStorage = options.pendingStorage ?? storage
  }

  /**
   * Starts a sign-in: makes a PKCE pair (RFC 7636 §4.1–4.2) and a random `state`, keeps them in the tab's
   * storage (one pending sign-in per tab), and sends the browser to the authorization endpoint. The page is left:
   * the promise does not settle unless the navigation is cancelled.
   *
   * @param options - `appState` to get back after the redirect, OpenID Connect `prompt` and `loginHint`.
   * @throws `TypeError` outside a browser (no `location` or no session storage).
   *
   * @example
   * ```ts
   * signInButton.onclick = () => auth.signIn({ appState: { returnTo: location.pathname } })
   * ```
   */
  async signIn(options: SignInOptions = {}): Promise<void> {
    const storage = this.#storage()
    const location = (globalThis as { location?: Location }).location
    if (location === undefined) throw new TypeError('signIn() needs a browser page to navigate from.')
    const endpoints = await this.endpoints()
    const authorizationEndpoint = this.#authorizationEndpoint(endpoints)
    const pkce = await createPkce()
    const state = base64UrlEncode(crypto.getRandomValues(new Uint8Array(32)))
    const url = buildAuthorizationUrl(authorizationEndpoint, this.clientId, {
      redirectUri: this.redirectUri,
      codeChallenge: pkce.codeChallenge,
      state,
      scopes: [...this.scopes],
      audience: this.audience,
      prompt: options.prompt,
      loginHint: options.loginHint,
    })
    const pending: v.InferOutput<typeof pendingSchema> = {
      state,
      codeVerifier: pkce.codeVerifier,
      redirectUri: this.redirectUri,
    }
    if (options.appState !== undefined) pending.appState = options.appState
    storage.setItem(this.#pendingKey, JSON.stringify(pending))
    location.assign(url.href)
  }

  /**
   * Finishes a sign-in when the page is the callback (its URL carries `code` or `error` with `state`): checks it
   * against the pending sign-in of this tab (state, RFC 6749 §10.12; issuer, RFC 9207), exchanges the code with
   * the PKCE verifier, stores the token set, removes `code`, `state` and `iss` from the address bar
   * (`history.replaceState`), and returns the `appState`. Any other page load (another path than the redirect
   * URI's, or no `code` or `error`) gives `undefined`. A callback whose `state` is not this tab's pending
   * sign-in is refused (nothing is sent, and the pending sign-in stays); the same callback seen again (a reload,
   * the back button) is not sent twice and leaves the tab signed in; calls made while one is under way for the
   * same URL (React StrictMode) share its one code exchange. Await it before
   * {@link Authenticator.getAccessToken}: until it has stored the token set, there is none.
   *
   * @param url - The page's URL; default `location.href`.
   * @returns The app state for a completed sign-in, or `undefined` when the URL is no callback.
   * @throws {@link AuthenticationError} for an error answer (`error: 'access_denied'`, …), a forged or stale
   *   callback (`error: 'state_mismatch'`), another issuer (`'issuer_mismatch'`), or a failed exchange.
   *
   * @example
   * ```ts
   * try {
   *   const done = await auth.handleRedirect()
   *   if (done) router.navigate((done.appState as { returnTo?: string }).returnTo ?? '/')
   * } catch (err) {
   *   if (err instanceof AuthenticationError) showError(err.message)
   * }
   * ```
   */
  handleRedirect(url?: string | URL): Promise<RedirectResult | undefined> {
    const location = (globalThis as { location?: Location }).location
    const href = url ?? location?.href
    if (href === undefined) return Promise.resolve(undefined)
    const callback = parseUrl(href)
    if (callback === undefined) return Promise.resolve(undefined)
    const params = callback.searchParams
    // Only the redirect URI is the callback: elsewhere in the app, `?code=` or `?error=` mean something else.
    const here = `${callback.origin}${callback.pathname}`
    if (here !== this.#callbackPath || (!params.has('code') && !params.has('error')))
      return Promise.resolve(undefined)
    // The same callback handled twice at once (React StrictMode runs effects twice, two components call it):
    // one exchange, whose result both callers get.
    const handling = this.#handling
    if (handling !== undefined && handling.href === callback.href) return handling.result
    const result = this.#handleCallback(callback)
    this.#handling = { href: callback.href, result }
    const forget = (): void => {
      if (this.#handling?.result === result) this.#handling = undefined
    }
    result.then(forget, forget)
    return result
  }

  async #handleCallback(callback: URL): Promise<RedirectResult | undefined> {
    const params = callback.searchParams
    const state = params.get('state')
    const storage = this.#storage()
    // Everything asynchronous first (discovery, hashing); from the pending sign-in's read to its removal below
    // nothing is awaited, so two handlers in this tab can never both take it and send the code twice (a code
    // used twice gets invalid_grant and, at many servers, the grant's tokens revoked: RFC 6749 §4.1.2).
    const endpoints = await this.endpoints()
    const dpopOptions = await this.dpopOptions()
    // Without a state the response is never taken as this tab's (below), so its fingerprint is never kept.
    const seen = await fingerprint(state ?? '')
    const pending = readPending(storage.getItem(this.#pendingKey))
    // A callback this tab already handled (a reload before the URL was cleaned, the back button, a bookmark):
    // its code was redeemed once and is not sent again, and the tab stays as it is.
    if (storage.getItem(this.#doneKey) === seen) {
      this.#cleanAddressBar(callback)
      return undefined
    }
    if (pending === undefined) {
      this.#cleanAddressBar(callback)
      throw new AuthenticationError(
        'This page was opened with a sign-in response that this tab did not ask for (no sign-in is pending): refused, as it may be forged (RFC 6749 §10.12). Sign in again.',
        { error: 'state_mismatch' },
      )
    }
    const issuer = this.expectedIssuer(endpoints)
    let code: string
    try {
      ;({ code } = parseAuthorizationResponse(callback, {
        state: pending.state,
        issuer,
        issParameterRequired: endpoints.issParameterRequired === true && issuer !== undefined,
      }))
    } catch (err) {
      // A forged callback (another state, or an error answer without any state, which cannot be verified)
      // leaves the pending sign-in alone: the real answer may still arrive in this tab. Any other refusal
      // answers this sign-in, which is over.
      const forged = err instanceof AuthenticationError && (err.error === 'state_mismatch' || state === null)
      if (!forged) {
        storage.removeItem(this.#pendingKey)
        storage.setItem(this.#doneKey, seen)
      }
      this.#cleanAddressBar(callback)
      throw err
    }
    // One-shot: the verifier is gone before the code is sent, so no other handler can send it again.
    storage.removeItem(this.#pendingKey)
    storage.setItem(this.#doneKey, seen)
    this.#cleanAddressBar(callback)
    const obtainedAt = Date.now()
    const response = await getToken(endpoints.tokenEndpoint, {
      ...this.transport,
      grantType: GrantType.AUTHORIZATION_CODE,
      code,
      redirectUri: pending.redirectUri,
      codeVerifier: pending.codeVerifier,
      clientId: this.clientId,
      audience: this.audience,
      ...dpopOptions,
    })
    await this.keep({ response, obtainedAt })
    return pending.appState === undefined ? {} : { appState: pending.appState }
  }

  /**
   * Without a usable refresh token only the person can sign in again, which the page decides:
   * `login_required` (OpenID Connect Core §3.1.2.6), never a navigation behind the app's back. A session that
   * got here is over (its refresh token missing, expired or revoked: RFC 6749 §5.2 invalid_grant), so it is
   * removed from the store: the next call does not send the dead refresh token again.
   */
  protected override async obtain(
    _endpoints: AuthenticatorEndpoints,
    previous: StoredToken | undefined,
  ): Promise<ObtainedToken> {
    if (previous !== undefined) await this.clear()
    throw new AuthenticationError(
      'Not signed in, or the session can no longer be renewed: call signIn() to sign in with the browser.',
      { error: 'login_required' },
    )
  }

  #authorizationEndpoint(endpoints: AuthenticatorEndpoints): string | URL {
    if (endpoints.authorizationEndpoint === undefined) {
      throw new AuthenticationError(
        'The authorization server metadata names no authorization_endpoint: pass authorizationEndpoint.',
      )
    }
    return endpoints.authorizationEndpoint
  }

  #storage(): Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> {
    if (this.#pendingStorage === undefined) {
      throw new TypeError(
        'Sign-in with the browser needs sessionStorage (or pendingStorage) to keep the PKCE verifier across the redirect.',
      )
    }
    return this.#pendingStorage
  }

  /** Drops the callback's parameters from the address bar, so that a reload or a bookmark does not carry them. */
  #cleanAddressBar(callback: URL): void {
    const g = globalThis as { location?: Location; history?: History }
    if (g.history === undefined || g.location === undefined || g.location.href !== callback.href) return
    const clean = new URL(callback.href)
    for (const name of callbackParams) clean.searchParams.delete(name)
    g.history.replaceState(g.history.state, '', clean.href)
  }
}

/** `new URL`, or `undefined` for what is no absolute URL (`URL.parse` is too recent for some browsers). */
function parseUrl(href: string | URL): URL | undefined {
  try {
    return new URL(href)
  } catch {
    return undefined
  }
}

function readPending(text: string | null): v.InferOutput<typeof pendingSchema> | undefined {
  if (text === null) return undefined
  try {
    const result = v.safeParse(pendingSchema, JSON.parse(text))
    return result.success ? result.output : undefined
  } catch {
    return undefined
  }
}

/** A hash of a state, kept to recognise a replayed callback without keeping the state itself. */
async function fingerprint(state: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(state))
  return base64UrlEncode(new Uint8Array(digest))
}
