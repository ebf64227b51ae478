import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
// The core through its entry point: the build turns this into an import of the package itself
// (tsup.config.ts), so that token-client/node shares the core's classes (instanceof AuthenticationError,
// Authenticator) instead of bundling copies of them.
import {
  AuthenticationError,
  Authenticator,
  type AuthenticatorEndpoints,
  type AuthenticatorOptions,
  buildAuthorizationUrl,
  createPkce,
  GrantType,
  getToken,
  type ObtainedToken,
  parseAuthorizationResponse,
} from '../index.ts'
// A pure helper, not exported by the core: bundled.
import { base64UrlEncode } from '../protocol/pkce.ts'

/**
 * Options of {@link LoopbackAuthenticator}.
 *
 * @example
 * ```ts
 * const options: LoopbackAuthenticatorOptions = {
 *   issuer: 'https://idp.example',
 *   clientId: 'my-cli',
 *   scopes: ['openid', 'offline_access'],
 *   onAuthorizationUrl: (url) => console.error(`Open ${url}`),
 * }
 * ```
 */
export interface LoopbackAuthenticatorOptions extends AuthenticatorOptions {
  /** The authorization endpoint, when not discovered from `issuer`. */
  authorizationEndpoint?: string | URL
  /** The revocation endpoint for {@link Authenticator.signOut}, when not discovered from `issuer`. */
  revocationEndpoint?: string | URL
  /**
   * The loopback redirect URI to listen on (RFC 8252 §7.3): `http://127.0.0.1:0/callback` by default, where port
   * 0 picks a free port (servers must accept any port for loopback redirect URIs); or a registered fixed one,
   * such as flytekit's `http://localhost:53593/callback`. Only `http:` on `127.0.0.1`, `[::1]` or `localhost`.
   */
  redirectUri?: string
  /**
   * Called with the URL the person must open (the library prints and opens nothing): print it, open the system
   * browser. The server already takes the callback while it runs; `callbackTimeout` counts from when it returns
   * (or its promise settles). If it throws, the sign-in fails with that error and the server is closed.
   */
  onAuthorizationUrl: (url: URL) => void | Promise<void>
  /**
   * Milliseconds to wait for the browser to come back once `onAuthorizationUrl` returned (default 300000, at
   * most 2147483647). `timeout` stays per request.
   */
  callbackTimeout?: number
  /**
   * OpenID Connect `prompt` (`login`, `consent`, `select_account`). Some servers (oidc-provider) grant
   * `offline_access`, hence a refresh token, only with `prompt: 'consent'` (OpenID Connect Core §11).
   */
  prompt?: string
  /** OpenID Connect `login_hint`: the account to preselect, e.g. an e-mail address. */
  loginHint?: string
}

const defaultRedirectUri = 'http://127.0.0.1:0/callback'
const loopbackHostnames = new Set(['127.0.0.1', '[::1]', 'localhost'])

/** The page the browser shows after the callback: small, no scripts, nothing from the request echoed. */
function page(title: string, text: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title><style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}</style></head><body><h1>${title}</h1><p>${text}</p></body></html>`
}

/** HTML-escapes text from the server's error answer (already stripped of control characters and capped). */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function answer(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'referrer-policy': 'no-referrer',
    connection: 'close',
  })
  res.end(html)
}

/**
 * Sign-in with the system browser for CLIs and desktop tools (RFC 8252, native apps; flytekit's
 * `PKCEAuthenticator`): a one-shot HTTP server on the loopback redirect URI receives the authorization code,
 * which is exchanged with its PKCE verifier (RFC 7636); then refresh tokens, the store and its lock like the
 * other authenticators (processes sharing a `fileStore` wait for one sign-in). The server answers the browser
 * with a small "signed in" page once the code was redeemed (or one that says what went wrong), ignores
 * anything else that reaches it (a favicon, another path, a stale state), and stops listening as soon as one
 * callback with its state arrived, or when `callbackTimeout` passes (`AuthenticationError` with error
 * `'callback_timeout'`) or `signal` aborts (rejects with its reason). Node and Deno (`token-client/node`).
 *
 * @example
 * ```ts
 * import { LoopbackAuthenticator, fileStore } from 'token-client/node'
 *
 * const auth = new LoopbackAuthenticator({
 *   issuer: 'https://idp.example',
 *   clientId: 'my-cli',
 *   scopes: ['openid', 'offline_access'],
 *   store: fileStore(`${process.env.HOME}/.config/my-cli/token.json`),
 *   onAuthorizationUrl: (url) => console.error(`Open ${url} to sign in.`),
 * })
 * const token = await auth.getAccessToken()
 * ```
 */
export class LoopbackAuthenticator extends Authenticator {
  readonly #redirect: URL
  readonly #onAuthorizationUrl: LoopbackAuthenticatorOptions['onAuthorizationUrl']
  readonly #callbackTimeout: number
  readonly #prompt: string | undefined
  readonly #loginHint: string | undefined

  /**
   * @param options - Issuer or endpoints, client id, scopes, audience, redirect URI, `onAuthorizationUrl`,
   *   `callbackTimeout`, `prompt`, `loginHint`, store, skew and transport options.
   * @throws `TypeError` when an option is missing or invalid.
   */
  constructor(options: LoopbackAuthenticatorOptions) {
    const explicit: Partial<AuthenticatorEndpoints> = {}
    if (options.tokenEndpoint !== undefined) explicit.tokenEndpoint = options.tokenEndpoint
    if (options.authorizationEndpoint !== undefined)
      explicit.authorizationEndpoint = options.authorizationEndpoint
    if (options.revocationEndpoint !== undefined) explicit.revocationEndpoint = options.revocationEndpoint
    super(options, explicit, ['tokenEndpoint', 'authorizationEndpoint'])
    if (typeof options.onAuthorizationUrl !== 'function') {
      throw new TypeError(
        'onAuthorizationUrl is required: it shows (or opens) the URL where the person signs in.',
      )
    }
    let redirect: URL
    try {
      redirect = new URL(options.redirectUri ?? defaultRedirectUri)
    } catch {
      throw new TypeError('redirectUri is not an absolute URL: use e.g. http://127.0.0.1:0/callback.')
    }
    // RFC 8252 §7.3 and §8.3: loopback redirects are plain http on a loopback address, never a remote host.
    if (redirect.protocol !== 'http:' || !loopbackHostnames.has(redirect.hostname) || redirect.hash !== '') {
      throw new TypeError(
        `redirectUri must be http:// on 127.0.0.1, [::1] or localhost with no fragment (RFC 8252 §7.3), not ${redirect.protocol}//${redirect.host}.`,
      )
    }
    const timeout = options.callbackTimeout ?? 300_000
    // setTimeout fires at once (and warns) past 2^31 - 1 ms: refused rather than silently ignored.
    if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 2_147_483_647) {
      throw new TypeError(
        `callbackTimeout must be a positive number of milliseconds up to 2147483647, got ${String(timeout)}: to wait without limit, abort the constructor's signal instead.`,
      )
    }
    for (const name of ['prompt', 'loginHint'] as const) {
      const value = options[name]
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        throw new TypeError(`${name} must be a non-empty string when given.`)
      }
    }
    this.#redirect = redirect
    this.#onAuthorizationUrl = options.onAuthorizationUrl
    this.#callbackTimeout = timeout
    this.#prompt = options.prompt
    this.#loginHint = options.loginHint
  }

  protected override async obtain(endpoints: AuthenticatorEndpoints): Promise<ObtainedToken> {
    const authorizationEndpoint = endpoints.authorizationEndpoint
    if (authorizationEndpoint === undefined) {
      throw new AuthenticationError(
        'The authorization server metadata names no authorization_endpoint: pass authorizationEndpoint.',
      )
    }
    const signal = this.transport.signal
    signal?.throwIfAborted()
    const pkce = await createPkce()
    const state = base64UrlEncode(crypto.getRandomValues(new Uint8Array(32)))
    const issuer = this.expectedIssuer(endpoints)
    const { dpop } = await this.dpopOptions()
    const listening = await listen(this.#redirect)
    try {
      const redirectUri = listening.redirectUri
      const url = buildAuthorizationUrl(authorizationEndpoint, this.clientId, {
        redirectUri,
        codeChallenge: pkce.codeChallenge,
        state,
        scopes: [...this.scopes],
        audience: this.audience,
        ...(this.#prompt === undefined ? {} : { prompt: this.#prompt }),
        ...(this.#loginHint === undefined ? {} : { loginHint: this.#loginHint }),
        ...(this.transport.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
        // RFC 9449 §10: the code is bound to the key, so only its holder can redeem it.
        ...(dpop === undefined ? {} : { extraParams: { dpop_jkt: dpop.jkt } }),
      })
      // Callbacks are taken from now on, even while onAuthorizationUrl still runs (a fast browser).
      const callback = listening.waitForCallback(state, signal, (href) =>
        parseAuthorizationResponse(href, {
          state,
          issuer,
          issParameterRequired: endpoints.issParameterRequired === true && issuer !== undefined,
        }),
      )
      const shown = (async () => this.#onAuthorizationUrl(url))()
      // An error of onAuthorizationUrl after the callback already came changes nothing.
      shown.catch(() => {})
      // Its failure, an abort or a refused callback end the sign-in at once; a success waits for both.
      await Promise.race([shown, callback])
      listening.startTimer(this.#callbackTimeout)
      const received = await callback
      const obtainedAt = Date.now()
      let response: ObtainedToken['response']
      try {
        response = await getToken(endpoints.tokenEndpoint, {
          ...this.transport,
          grantType: GrantType.AUTHORIZATION_CODE,
          code: received.code,
          redirectUri,
          codeVerifier: pkce.codeVerifier,
          clientId: this.clientId,
          audience: this.audience,
          ...(dpop === undefined ? {} : { dpop }),
        })
      } catch (err) {
        received.respond(failedPage(err))
        throw err
      }
      // The browser is told "signed in" only once the code was redeemed, not when it merely arrived.
      received.respond(signedInPage)
      return { response, obtainedAt }
    } finally {
      await listening.close()
    }
  }
}

const signedInPage = (): [number, string] => [
  200,
  page('Signed in', 'You are signed in: you can close this tab and return to the terminal.'),
]

function failedPage(err: unknown): () => [number, string] {
  const detail =
    err instanceof AuthenticationError && err.error !== undefined
      ? escapeHtml(err.error)
      : 'the answer could not be read'
  return () => [
    400,
    page('Sign-in failed', `The sign-in did not complete (${detail}). Return to the terminal.`),
  ]
}

/** A callback that carried a code: the browser's request is answered once the code was redeemed (or not). */
interface Received {
  code: string
  respond(page: () => [number, string]): void
}

interface Listening {
  /** The redirect URI with the port actually bound. */
  redirectUri: string
  /**
   * Starts taking callbacks: resolves with the first one that carries our `state` and a code, rejects for one
   * that carries our state and an error (or fails a check), on abort, on timeout, or when closed.
   */
  waitForCallback(
    state: string,
    signal: AbortSignal | undefined,
    parse: (href: string) => { code: string },
  ): Promise<Received>
  /** Starts the callback timeout (once; nothing when the wait is over). */
  startTimer(timeout: number): void
  /** Stops listening at once, ends a wait still going, and resolves when the connections are gone. */
  close(): Promise<void>
}

/** "500 ms", "1.5 s", "30 s", "5 min": how long the wait was, for the timeout message. */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 10_000) return `${Math.round(ms / 100) / 10} s`
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`
  return `${Math.round(ms / 60_000)} min`
}

/** How long open connections (a response still being written) may take once the server stops listening. */
const closeGrace = 1000

/** Binds the one-shot callback server on the redirect URI's host and port (0: a free one). */
async function listen(redirect: URL): Promise<Listening> {
  const notFound = (res: ServerResponse): void =>
    answer(res, 404, page('Not found', 'This is the sign-in callback of a command-line tool.'))
  let onRequest: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => notFound(res)
  const server: Server = createServer((req, res) => onRequest(req, res))
  const host = redirect.hostname === '[::1]' ? '::1' : redirect.hostname
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new AuthenticationError(
              `Cannot listen on ${redirect.host} for the sign-in callback: the port is in use. Close what uses it, or use port 0 in redirectUri if the server accepts any loopback port (RFC 8252 §7.3).`,
              { cause: err },
            )
          : err,
      ),
    )
    server.listen(Number(redirect.port || 80), host, () => resolve())
  })
  // Errors after listening (e.g. a failed accept) must not crash the process: the wait's timeout still ends it.
  server.on('error', () => {})
  const { port } = server.address() as AddressInfo
  const bound = new URL(redirect.href)
  bound.port = String(port)
  const path = bound.pathname

  let startTimer: (timeout: number) => void = () => {}
  let abandon: () => void = () => {}
  let held: ServerResponse | undefined

  const close = (): Promise<void> => {
    abandon()
    if (held !== undefined && !held.headersSent) {
      answer(held, 500, page('Sign-in failed', 'The sign-in did not complete. Return to the terminal.'))
    }
    held = undefined
    return new Promise((resolve) => {
      // close() stops accepting at once (the port refuses connections) and ends idle keep-alive connections;
      // one still writing its page gets a moment to finish.
      const force = setTimeout(() => server.closeAllConnections(), closeGrace)
      server.close(() => {
        clearTimeout(force)
        resolve()
      })
      server.closeIdleConnections()
    })
  }

  const waitForCallback: Listening['waitForCallback'] = (state, signal, parse) => {
    const waiting = new Promise<Received>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      let over = false
      const finish = (settle: () => void): void => {
        if (over) return
        over = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        onRequest = (_req, res) =>
          answer(res, 410, page('Sign-in finished', 'This sign-in is over: you can close this tab.'))
        settle()
      }
      const onAbort = (): void => finish(() => reject(signal?.reason))
      abandon = () =>
        finish(() =>
          reject(
            new AuthenticationError('The sign-in ended before the browser came back.', {
              error: 'callback_abandoned',
            }),
          ),
        )
      startTimer = (timeout) => {
        if (over || timer !== undefined) return
        timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new AuthenticationError(
                  `No sign-in arrived within ${duration(timeout)}: the browser did not come back to ${bound.origin}. Run the sign-in again (and finish it in the browser sooner, or raise callbackTimeout).`,
                  { error: 'callback_timeout' },
                ),
              ),
            ),
          timeout,
        )
      }
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      onRequest = (req, res) => {
        let href: URL
        try {
          href = new URL(req.url ?? '/', bound.origin)
        } catch {
          // A request target that is no URL (e.g. a scan): answered, and the wait goes on.
          return answer(res, 400, page('Bad request', 'This is the sign-in callback of a command-line tool.'))
        }
        // Only the callback path with our state ends the wait: a favicon, a scan or a stale tab does not.
        if (req.method !== 'GET' || href.pathname !== path) return notFound(res)
        if (href.searchParams.get('state') !== state) {
          return answer(
            res,
            400,
            page('Not this sign-in', 'This link belongs to another sign-in attempt. Use the newest link.'),
          )
        }
        try {
          const { code } = parse(href.href)
          held = res
          finish(() =>
            resolve({
              code,
              respond: (make) => {
                if (held !== res) return
                held = undefined
                const [status, html] = make()
                answer(res, status, html)
              },
            }),
          )
        } catch (err) {
          answer(res, 400, failedPage(err)()[1])
          finish(() => reject(err))
        }
      }
    })
    // Handled here: the caller may be busy with onAuthorizationUrl when it settles; it is awaited later.
    waiting.catch(() => {})
    return waiting
  }

  return {
    redirectUri: bound.href,
    close,
    waitForCallback,
    startTimer: (timeout) => startTimer(timeout),
  }
}
