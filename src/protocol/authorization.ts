import { AuthenticationError } from './errors.ts'
import { createRedactor } from './redact.ts'
import { checkEndpoint } from './transport.ts'

/**
 * Options of {@link buildAuthorizationUrl}: the RFC 6749 §4.1.1 request parameters, camelCase.
 *
 * @example
 * ```ts
 * const { codeChallenge, codeVerifier } = await createPkce()
 * const options: BuildAuthorizationUrlOptions = {
 *   redirectUri: 'http://127.0.0.1:53682/callback',
 *   codeChallenge,
 *   state: crypto.randomUUID(),
 *   scopes: ['openid', 'offline_access'],
 * }
 * const url = buildAuthorizationUrl(authorizationEndpoint, 'my-cli', options)
 * ```
 */
export interface BuildAuthorizationUrlOptions {
  /** Where the server sends the browser back (`redirect_uri`, RFC 6749 §3.1.2): absolute, no fragment. */
  redirectUri: string
  /** The S256 PKCE challenge from {@link createPkce} (`code_challenge`, RFC 7636 §4.3). */
  codeChallenge: string
  /**
   * An unguessable value bound to this request (`state`), checked by {@link parseAuthorizationResponse}
   * against cross-site request forgery (RFC 6749 §10.12). Use a fresh random value per request.
   */
  state: string
  /** Scopes to request, sent space-separated as `scope` (RFC 6749 §3.3). */
  scopes?: string[]
  /** Audience of the requested token (sent as `audience`, as Auth0, Okta and Flyte expect). */
  audience?: string
  /** OpenID Connect `nonce`, echoed in the ID token (OpenID Connect Core §3.1.2.1). */
  nonce?: string
  /** OpenID Connect `prompt`, e.g. `login`, `consent`, `select_account`. */
  prompt?: string
  /** OpenID Connect `login_hint`: the account to preselect, e.g. an e-mail address. */
  loginHint?: string
  /**
   * More query parameters (e.g. `acr_values`, `ui_locales`, `resource`), added last. They may not set
   * `response_type`, `client_id`, `redirect_uri`, `state`, `code_challenge` or `code_challenge_method`: those
   * carry the flow's security and have their own options.
   */
  extraParams?: Record<string, string>
  /**
   * Allow an `http://` authorization endpoint on a host other than loopback. Off by default, as for every
   * endpoint: the sign-in page takes the user's password (RFC 6749 §3.1).
   */
  allowInsecureHttp?: boolean
}

/** Parameters extraParams cannot set: they bind the response to this request and this client. */
const protectedParams = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'code_challenge',
  'code_challenge_method',
])

/** An S256 challenge is 43 base64url characters; RFC 7636 §4.2 allows 43 to 128 unreserved ones. */
const challengeFormat = /^[A-Za-z0-9._~-]{43,128}$/

/** Whether a string names an absolute URL without a fragment (RFC 6749 §3.1.2). */
function isAbsoluteWithoutFragment(value: unknown): boolean {
  if (typeof value !== 'string' || value.includes('#')) return false
  try {
    new URL(value)
    return true
  } catch {
    return false
  }
}

/**
 * Builds the authorization request URL of the authorization code flow with PKCE (RFC 6749 §4.1.1,
 * RFC 7636 §4.3), to open in the user's browser: `response_type=code`, `client_id`, `redirect_uri`, `scope`,
 * `state`, `code_challenge`, `code_challenge_method=S256`, then `audience`, `nonce`, `prompt`, `login_hint` and
 * `extraParams` when given. The endpoint's own query is kept (RFC 6749 §3.1); a parameter it already has is
 * replaced, as none may appear twice.
 *
 * @param authorizationEndpoint - The authorization endpoint (`https:`, or `http:` on loopback), without a
 *   fragment: e.g. `metadata.authorization_endpoint` from {@link discover}.
 * @param clientId - The client id.
 * @param options - The request parameters; `redirectUri`, `codeChallenge` and `state` are required.
 * @returns The URL to open.
 * @throws `TypeError` for an invalid endpoint, client id, redirect URI, challenge or state, or an
 *   `extraParams` entry that would replace a protected parameter. Secrets are never echoed.
 *
 * @example
 * ```ts
 * const pkce = await createPkce()
 * const state = crypto.randomUUID()
 * const url = buildAuthorizationUrl('https://idp.example/authorize', 'my-cli', {
 *   redirectUri: 'http://127.0.0.1:53682/callback',
 *   codeChallenge: pkce.codeChallenge,
 *   state,
 *   scopes: ['openid', 'offline_access'],
 * })
 * openBrowser(url.href)
 * ```
 */
export function buildAuthorizationUrl(
  authorizationEndpoint: string | URL,
  clientId: string,
  options: BuildAuthorizationUrlOptions,
): URL {
  const url = checkEndpoint(authorizationEndpoint, 'authorization endpoint', options?.allowInsecureHttp)
  // `new URL` keeps an empty fragment ("…#") out of `hash`: look at the input too.
  if (url.hash !== '' || String(authorizationEndpoint).includes('#')) {
    throw new TypeError(
      'The authorization endpoint must not include a fragment component (RFC 6749 §3.1): remove the "#…" part.',
    )
  }
  if (typeof clientId !== 'string' || clientId === '') {
    throw new TypeError('buildAuthorizationUrl needs the client id: pass it as the second argument.')
  }
  const { redirectUri, codeChallenge, state, extraParams = {} } = options
  if (!isAbsoluteWithoutFragment(redirectUri)) {
    throw new TypeError(
      'The redirectUri must be an absolute URL without a fragment (RFC 6749 §3.1.2), e.g. http://127.0.0.1:PORT/callback: pass the URL registered for the client.',
    )
  }
  if (typeof codeChallenge !== 'string' || !challengeFormat.test(codeChallenge)) {
    throw new TypeError(
      'The codeChallenge must be an S256 PKCE challenge (43 to 128 characters of base64url, RFC 7636 §4.2): pass createPkce().codeChallenge, never the verifier.',
    )
  }
  if (typeof state !== 'string' || state === '') {
    throw new TypeError(
      'The state must be a non-empty, unguessable string (RFC 6749 §10.12): pass a fresh random value, e.g. crypto.randomUUID().',
    )
  }
  for (const name of Object.keys(extraParams)) {
    if (protectedParams.has(name)) {
      throw new TypeError(
        `extraParams must not set ${name}: it binds the response to this request (RFC 6749 §4.1.1, RFC 7636 §4.3); use the named argument or option instead.`,
      )
    }
  }

  const params = url.searchParams
  const set = (name: string, value: string | undefined): void => {
    if (value !== undefined) params.set(name, value)
  }
  set('response_type', 'code')
  set('client_id', clientId)
  set('redirect_uri', redirectUri)
  set('scope', options.scopes?.join(' ') || undefined)
  set('state', state)
  set('code_challenge', codeChallenge)
  set('code_challenge_method', 'S256')
  set('audience', options.audience)
  set('nonce', options.nonce)
  set('prompt', options.prompt)
  set('login_hint', options.loginHint)
  for (const [name, value] of Object.entries(extraParams)) set(name, String(value))
  return url
}

/**
 * Options of {@link parseAuthorizationResponse}: what the response must match.
 *
 * @example
 * ```ts
 * const options: ParseAuthorizationResponseOptions = {
 *   state,
 *   issuer: metadata.issuer,
 *   issParameterRequired: metadata.authorization_response_iss_parameter_supported === true,
 * }
 * const { code } = parseAuthorizationResponse(callbackUrl, options)
 * ```
 */
export interface ParseAuthorizationResponseOptions {
  /** The `state` sent in the authorization request: the response must carry the same (RFC 6749 §10.12). */
  state: string
  /**
   * The authorization server's issuer identifier (`metadata.issuer`). When set, an `iss` parameter in the
   * response that differs from it is refused (RFC 9207 §2.4, against mix-up attacks).
   */
  issuer?: string
  /**
   * Refuse a response without `iss` too (needs `issuer`). Set it when the server's metadata has
   * `authorization_response_iss_parameter_supported: true` (RFC 9207 §3): such a server always sends `iss`, so
   * a response without one did not come from it.
   */
  issParameterRequired?: boolean
}

/**
 * What a successful authorization response carries that the token request needs.
 *
 * @example
 * ```ts
 * const { code }: AuthorizationResponse = parseAuthorizationResponse(callbackUrl, { state })
 * ```
 */
export interface AuthorizationResponse {
  /** The authorization code, for {@link getToken} with `GrantType.AUTHORIZATION_CODE`. */
  code: string
}

/** Parameters that identify the response: any of them twice makes it ambiguous (RFC 6749 §3.1). */
const singleParams = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri']

/**
 * Server-provided text made safe for a message: C0/C1 controls and bidirectional overrides removed (they could
 * rewrite a terminal or reorder what a person reads), whitespace collapsed, at most `max` characters.
 */
function safeText(value: string | null, max: number): string | undefined {
  if (value === null) return undefined
  const clean = value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return clean.length > max ? `${clean.slice(0, max)}…` : clean
}

/** String equality whose time does not depend on where the strings differ (same length assumed public). */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** RFC 6749 Appendix A.11: code = 1*VSCHAR. */
const codeFormat = /^[\u0020-\u007e]+$/

/**
 * Reads the authorization response the browser brought back to the redirect URI (RFC 6749 §4.1.2), in the
 * order that keeps forged callbacks out:
 *
 * 1. the parameters come from the query (the code flow's response mode; a fragment is ignored), none twice;
 * 2. `state` must equal `options.state` (RFC 6749 §10.12), compared in constant time; when it differs, the
 *    response is not ours, whatever it says (an error response carries `state` too, §4.1.2.1). An error
 *    response without any `state` is still reported as the server's error, marked as unverified;
 * 3. with `options.issuer`, `iss` must equal it (RFC 9207 §2.4), and must be present when
 *    `options.issParameterRequired` is set;
 * 4. an `error` answer (§4.1.2.1) becomes an {@link AuthenticationError} with the server's `error`,
 *    `errorDescription` and `errorUri` (control characters removed, lengths capped: they are
 *    attacker-controlled);
 * 5. a success must carry a `code`.
 *
 * Our own refusals use these `error` codes, so callers can branch on them:
 * - `'state_mismatch'`: `state` missing or different: a forged or stale callback (CSRF). Start again.
 * - `'issuer_mismatch'`: `iss` differs from `issuer`, or is missing while required (mix-up attack, RFC 9207).
 * - `'invalid_response'`: not a URL, a parameter given twice, or a success without a valid `code`.
 *
 * Neither the code nor either state is ever put in a message.
 *
 * @param callback - The full URL the browser was sent to (e.g. `new URL(req.url, redirectUri)` in a loopback
 *   server, or `location.href` in a page).
 * @param options - The `state` sent, and optionally the `issuer` to check `iss` against.
 * @returns The authorization code.
 * @throws {@link AuthenticationError} for an error answer or a response that fails a check (see above); never
 *   a `TypeError` for hostile callback input.
 * @throws `TypeError` only for the caller's own options: no `state`, or `issParameterRequired` without `issuer`.
 *
 * @example
 * ```ts
 * const { code } = parseAuthorizationResponse('http://127.0.0.1:53682/callback?code=SplxlOB&state=xyz&iss=https%3A%2F%2Fidp.example', {
 *   state: 'xyz',
 *   issuer: 'https://idp.example',
 * })
 * const token = await getToken(tokenEndpoint, {
 *   grantType: GrantType.AUTHORIZATION_CODE, code, redirectUri, codeVerifier, clientId: 'my-cli',
 * })
 * ```
 */
export function parseAuthorizationResponse(
  callback: string | URL,
  options: ParseAuthorizationResponseOptions,
): AuthorizationResponse {
  const { state, issuer, issParameterRequired } = options ?? {}
  if (typeof state !== 'string' || state === '') {
    throw new TypeError(
      'parseAuthorizationResponse needs the state sent in the authorization request: pass { state }.',
    )
  }
  if (issParameterRequired && typeof issuer !== 'string') {
    throw new TypeError('issParameterRequired needs the issuer to compare iss with: pass { issuer } too.')
  }
  let params: URLSearchParams
  try {
    params = new URL(callback).searchParams
  } catch {
    // Not echoed: the text may hold the code.
    throw new AuthenticationError(
      'The authorization response is not an absolute URL: pass the whole URL the browser was redirected to.',
      { error: 'invalid_response' },
    )
  }
  // What the server sent is shown only with the code and both states scrubbed from it.
  let redact: ((text: string) => string) | undefined
  const scrub = (text: string): string => {
    redact ??= createRedactor(params.getAll('code').concat(params.getAll('state'), state))
    return redact(text)
  }
  // Scrubbed before and after cleaning: trimming or collapsing whitespace could turn a secret into a form the
  // redactor no longer sees, and removing control characters could join two halves of one.
  const shown = (text: string | null, max: number): string | undefined => {
    const clean = safeText(text === null ? null : scrub(text), max)
    return clean ? scrub(clean) : undefined
  }
  const refuse = (error: string, message: string): AuthenticationError =>
    new AuthenticationError(scrub(message), { error })
  for (const name of singleParams) {
    if (params.getAll(name).length > 1) {
      throw refuse(
        'invalid_response',
        `The authorization response carries ${name} more than once (RFC 6749 §3.1): refused. Start the sign-in again.`,
      )
    }
  }

  const received = params.get('state')
  const error = params.get('error')
  // An error response without any state (some servers omit it on errors) is reported as the server's error:
  // the flow fails either way, and its error code is what the caller needs to fix things.
  if (received === null ? error === null : !constantTimeEqual(received, state)) {
    throw refuse(
      'state_mismatch',
      `The authorization response ${received === null ? 'has no state' : 'carries a state that is not the one sent'}: refused, as it may be a forged or stale callback (cross-site request forgery, RFC 6749 §10.12). Start the sign-in again.`,
    )
  }

  const iss = params.get('iss')
  if (issuer !== undefined && (iss === null ? issParameterRequired : iss !== issuer)) {
    throw refuse(
      'issuer_mismatch',
      iss === null
        ? `The authorization response has no iss parameter, which ${issuer} always sends (RFC 9207 §2.4): refused, as it may come from another server. Start the sign-in again.`
        : `The authorization response comes from issuer ${JSON.stringify(shown(iss, 200))}, not ${issuer} (RFC 9207 §2.4): refused, as it may be a mix-up attack. Start the sign-in again.`,
    )
  }

  if (error !== null) {
    const code = shown(error, 100) ?? 'error'
    const errorDescription = shown(params.get('error_description'), 500)
    const errorUri = shown(params.get('error_uri'), 500)
    throw new AuthenticationError(
      // Built from scrubbed parts only.
      `The authorization server refused the request${received === null ? ' (the response has no state, so it is unverified)' : ''}: ${code}${
        errorDescription ? `: ${errorDescription}` : ''
      }${errorUri ? ` (see ${errorUri})` : ''}.${code === 'access_denied' ? ' The user (or the server) declined: sign in again to retry.' : ''}`,
      { error: code, errorDescription, errorUri },
    )
  }

  const code = params.get('code')
  if (!code || !codeFormat.test(code)) {
    throw refuse(
      'invalid_response',
      `The authorization response ${!code ? 'has no code' : 'carries a code that is not visible ASCII (RFC 6749 Appendix A.11)'}: refused. Check that the callback URL is complete (the code flow puts it in the query) and start the sign-in again.`,
    )
  }
  return { code }
}
