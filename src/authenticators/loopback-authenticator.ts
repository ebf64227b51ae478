import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildAuthorizationUrl, parseAuthorizationResponse } from '../protocol/authorization.ts'
import { GrantType } from '../protocol/constants.ts'
import { AuthenticationError } from '../protocol/errors.ts'
import { base64UrlEncode, createPkce } from '../protocol/pkce.ts'
import { getToken } from '../protocol/token.ts'
import {
  Authenticator,
  type AuthenticatorEndpoints,
  type AuthenticatorOptions,
  type ObtainedToken,
} from './authenticator.ts'

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
   * browser. The wait for the callback starts when it returns (or its promise settles).
   */
  onAuthorizationUrl: (url: URL) => void | Promise<void>
  /** Milliseconds to wait for the browser to come back (default 300000). `timeout` stays per request. */
  callbackTimeout?: number
  /**
   * OpenID Connect `prompt` (`login`, `consent`, `select_account`). Some servers (oidc-provider) grant
   * `offline_access`, hence a refresh token, only with `prompt: 'consent'` (OpenID Connect Core §11).
   */
  prompt?: string
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
 * with a small "signed in" page (or one that says what went wrong), ignores anything else that reaches it
 * (a favicon, another path, a stale state), and stops as soon as one valid callback arrived, or when
 * `callbackTimeout` passes or `signal` aborts. Node and Deno (`token-client/node`).
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

  /**
   * @param options - Issuer or endpoints, client id, scopes, audience, redirect URI, `onAuthorizationUrl`,
   *   `callbackTimeout`, `prompt`, store, skew and transport options.
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
    if (typeof timeout !== 'number' || !(timeout > 0)) {
      throw new TypeError(
        `callbackTimeout must be a positive number of milliseconds, got ${String(timeout)}.`,
      )
    }
    if (options.prompt !== undefined && (typeof options.prompt !== 'string' || options.prompt === '')) {
      throw new TypeError('prompt must be a non-empty string when given.')
    }
    this.#redirect = redirect
    this.#onAuthorizationUrl = options.onAuthorizationUrl
    this.#callbackTimeout = timeout
    this.#prompt = options.prompt
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
    const listening = await listen(this.#redirect)
    try {
      const redirectUri = listening.redirectUri
      const url = buildAuthorizationUrl(authorizationEndpoint, this.clientId, {
        redirectUri,
        codeChallenge: pkce.codeChallenge,
        state,
        scopes: [...this.scopes],
        ...(this.audience === undefined ? {} : { audience: this.audience }),
        ...(this.#prompt === undefined ? {} : { prompt: this.#prompt }),
      })
      const callback = listening.waitForCallback(state, this.#callbackTimeout, signal, (href) =>
        parseAuthorizationResponse(href, {
          state,
          ...(issuer === undefined ? {} : { issuer }),
          ...(endpoints.issParameterRequired && issuer !== undefined ? { issParameterRequired: true } : {}),
        }),
      )
      await this.#onAuthorizationUrl(url)
      const { code } = await callback
      const obtainedAt = Date.now()
      const response = await getToken(endpoints.tokenEndpoint, {
        ...this.transport,
        grantType: GrantType.AUTHORIZATION_CODE,
        code,
        redirectUri,
        codeVerifier: pkce.codeVerifier,
        clientId: this.clientId,
        ...(this.audience === undefined ? {} : { audience: this.audience }),
      })
      return { response, obtainedAt }
    } finally {
      await listening.close()
    }
  }
}

interface Listening {
  /** The redirect URI with the port actually bound. */
  redirectUri: string
  waitForCallback(
    state: string,
    timeout: number,
    signal: AbortSignal | undefined,
    parse: (href: string) => { code: string },
  ): Promise<{ code: string }>
  close(): Promise<void>
}

/** Binds the one-shot callback server on the redirect URI's host and port (0: a free one). */
async function listen(redirect: URL): Promise<Listening> {
  let onRequest: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    answer(res, 404, page('Not found', 'Nothing here.'))
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
  const { port } = server.address() as AddressInfo
  const bound = new URL(redirect.href)
  bound.port = String(port)
  const path = bound.pathname
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return {
    redirectUri: bound.href,
    close,
    waitForCallback: (state, timeout, signal, parse) =>
      new Promise((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined
        const finish = (settle: () => void): void => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          onRequest = (_req, res) => answer(res, 410, page('Sign-in finished', 'You can close this tab.'))
          settle()
        }
        const onAbort = (): void => finish(() => reject(signal?.reason))
        timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new AuthenticationError(
                  `No sign-in arrived within ${Math.round(timeout / 1000)} s: the browser did not come back to ${bound.origin}. Run the sign-in again.`,
                  { error: 'callback_timeout' },
                ),
              ),
            ),
          timeout,
        )
        signal?.addEventListener('abort', onAbort, { once: true })
        onRequest = (req, res) => {
          const href = new URL(req.url ?? '/', bound.origin)
          // Only the callback path with our state ends the wait: a favicon, a scan or a stale tab does not.
          if (req.method !== 'GET' || href.pathname !== path) {
            return answer(res, 404, page('Not found', 'This is the sign-in callback of a command-line tool.'))
          }
          if (href.searchParams.get('state') !== state) {
            return answer(
              res,
              400,
              page('Not this sign-in', 'This link belongs to another sign-in attempt. Use the newest link.'),
            )
          }
          try {
            const result = parse(href.href)
            answer(res, 200, page('Signed in', 'You are signed in: you can close this tab.'))
            finish(() => resolve(result))
          } catch (err) {
            const detail =
              err instanceof AuthenticationError
                ? escapeHtml(err.error ?? 'error')
                : 'the answer could not be read'
            answer(
              res,
              400,
              page('Sign-in failed', `The sign-in did not complete (${detail}). Return to the terminal.`),
            )
            finish(() => reject(err))
          }
        }
      }),
  }
}
