/**
 * Sign-in with the browser, protocol layer: PKCE (RFC 7636), the authorization request and response
 * (RFC 6749 §4.1, RFC 9207 `iss`), the authorization code grant and token revocation (RFC 7009), against the
 * real oidc-provider (tests/fixtures/oidc.ts, walked by authorizeInteractively) and, for answers no real server
 * gives on demand, the scripted server.
 */
import { createHash } from 'node:crypto'
import { expect, test } from '@playwright/test'
import {
  AuthenticationError,
  buildAuthorizationUrl,
  calculatePkceChallenge,
  createPkce,
  discover,
  GrantType,
  getBasicAuthorizationHeader,
  getToken,
  parseAuthorizationResponse,
  revokeToken,
} from 'token-client'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { authError, failOnUnhandledRejections } from '../fixtures/hostile.ts'
import {
  authorizeInteractively,
  type OidcFixture,
  type StartOidcProviderOptions,
  startOidcProvider,
} from '../fixtures/oidc.ts'
import { json, type ScriptedServer, startScriptedServer, text } from '../fixtures/scripted-server.ts'

failOnUnhandledRejections(test)
const closedAfterTest = closeAfterEach(test)

async function provider(opts?: StartOidcProviderOptions): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider(opts))
}

async function scripted(routes: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
  return closedAfterTest(await startScriptedServer(routes))
}

/** Synchronous variant of hostile.ts `authError`. */
function thrownAuthError(fn: () => unknown): AuthenticationError {
  try {
    fn()
  } catch (err) {
    if (err instanceof AuthenticationError) return err
    throw new Error(`expected an AuthenticationError, got ${String(err)}`)
  }
  throw new Error('expected a throw')
}

/** Asserts that none of `secrets` appears in the error's message, JSON or cause chain. */
function expectNoSecrets(err: unknown, ...secrets: string[]): void {
  const texts = [String(err), JSON.stringify(err), (err as Error).stack ?? '']
  for (let cause = (err as Error).cause; cause instanceof Error; cause = cause.cause)
    texts.push(cause.message)
  for (const secret of secrets) for (const t of texts) expect(t).not.toContain(secret)
}

const redirectUri = 'http://127.0.0.1:8765/callback'
const scopes = ['openid', 'offline_access', 'api:read']
const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url')

test.describe('PKCE', () => {
  test('RFC 7636 Appendix B: the S256 challenge of the example verifier', async () => {
    expect(await calculatePkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    )
  })

  test('createPkce: 43-character unreserved verifiers, S256 challenges, never twice the same', async () => {
    const seen = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const pkce = await createPkce()
      expect(pkce.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/) // RFC 7636 §4.1: 43..128 unreserved
      expect(pkce.codeChallenge).toBe(sha256(pkce.codeVerifier))
      expect(pkce.codeChallengeMethod).toBe('S256')
      expect(Object.keys(pkce).sort()).toEqual(['codeChallenge', 'codeChallengeMethod', 'codeVerifier'])
      seen.add(pkce.codeVerifier)
    }
    expect(seen.size).toBe(500)
  })

  test('calculatePkceChallenge refuses verifiers outside RFC 7636 §4.1, without echoing them', async () => {
    for (const verifier of ['short-verifier', 'x'.repeat(129), `${'a'.repeat(42)}+`, `${'é'.repeat(43)}`]) {
      const err = await calculatePkceChallenge(verifier).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TypeError)
      expect(String(err)).toContain('RFC 7636 §4.1')
      expect(String(err)).not.toContain(verifier)
    }
    expect(await calculatePkceChallenge('~'.repeat(128))).toBe(sha256('~'.repeat(128)))
  })
})

test.describe('buildAuthorizationUrl', () => {
  const base = { redirectUri, codeChallenge: sha256('v'.repeat(43)), state: 'st-1' }

  test('RFC 6749 §4.1.1 parameters, the endpoint query kept, extras last', () => {
    const url = buildAuthorizationUrl('https://idp.example/authorize?tenant=a%20b', 'my-cli', {
      ...base,
      scopes,
      audience: 'https://api.example',
      nonce: 'n-1',
      prompt: 'consent',
      loginHint: 'ana@example.com',
      extraParams: { ui_locales: 'de en', acr_values: 'mfa' },
    })
    expect(url).toBeInstanceOf(URL)
    expect(`${url.origin}${url.pathname}`).toBe('https://idp.example/authorize')
    expect([...url.searchParams]).toEqual([
      ['tenant', 'a b'],
      ['response_type', 'code'],
      ['client_id', 'my-cli'],
      ['redirect_uri', redirectUri],
      ['scope', 'openid offline_access api:read'],
      ['state', 'st-1'],
      ['code_challenge', base.codeChallenge],
      ['code_challenge_method', 'S256'],
      ['audience', 'https://api.example'],
      ['nonce', 'n-1'],
      ['prompt', 'consent'],
      ['login_hint', 'ana@example.com'],
      ['ui_locales', 'de en'],
      ['acr_values', 'mfa'],
    ])
    // no scope parameter for no scopes; an endpoint parameter we set is replaced, not repeated
    const bare = buildAuthorizationUrl(new URL('http://127.0.0.1:9/auth?response_type=token'), 'c', {
      ...base,
      scopes: [],
    })
    expect(bare.searchParams.has('scope')).toBe(false)
    expect(bare.searchParams.getAll('response_type')).toEqual(['code'])
  })

  test('extraParams cannot replace the security-relevant parameters', () => {
    for (const name of [
      'response_type',
      'client_id',
      'redirect_uri',
      'state',
      'code_challenge',
      'code_challenge_method',
    ]) {
      expect(() =>
        buildAuthorizationUrl('https://idp.example/authorize', 'c', {
          ...base,
          extraParams: { [name]: 'x' },
        }),
      ).toThrow(new RegExp(`^extraParams must not set ${name}:`))
    }
  })

  test('endpoint, client id, redirect URI, challenge and state are checked (TypeError, nothing echoed)', () => {
    const build =
      (endpoint: string, options: Partial<typeof base> = {}, clientId = 'c') =>
      () =>
        buildAuthorizationUrl(endpoint, clientId, { ...base, ...options })
    expect(build('http://idp.example/authorize')).toThrow(TypeError)
    expect(build('http://idp.example/authorize')).toThrow(/must be an https:\/\/ URL/)
    expect(build('https://idp.example/authorize#frag')).toThrow(/fragment/)
    expect(build('https://idp.example/authorize#')).toThrow(/fragment/)
    expect(build('https://user:pw@idp.example/authorize')).toThrow(/user name or password/)
    expect(build('not a url')).toThrow(/not an absolute URL/)
    expect(build('https://idp.example/a', {}, '')).toThrow(/client id/)
    for (const bad of ['/callback', 'http://127.0.0.1:1/cb#secret-fragment', 'callback?x=secret-value']) {
      expect(build('https://idp.example/a', { redirectUri: bad })).toThrow(
        /redirectUri must be an absolute URL/,
      )
      try {
        build('https://idp.example/a', { redirectUri: bad })()
      } catch (err) {
        expect(String(err)).not.toContain('secret')
      }
    }
    expect(build('https://idp.example/a', { codeChallenge: 'short' })).toThrow(/codeChallenge/)
    expect(build('https://idp.example/a', { state: '' })).toThrow(/state/)
    // loopback http, and remote http with the opt-in, are fine
    expect(build('http://localhost:8080/auth')().host).toBe('localhost:8080')
    expect(
      buildAuthorizationUrl('http://idp.internal/auth', 'c', { ...base, allowInsecureHttp: true }).protocol,
    ).toBe('http:')
    // a private-use scheme redirect (RFC 8252 §7.1) is an absolute URL
    expect(
      buildAuthorizationUrl('https://idp.example/a', 'c', {
        ...base,
        redirectUri: 'com.example.app:/cb',
      }).searchParams.get('redirect_uri'),
    ).toBe('com.example.app:/cb')
  })
})

test.describe('parseAuthorizationResponse', () => {
  const code = 'SplxlOBeZQQYbYS6WxSbIA'
  const state = 'xyz-state-123'
  const issuer = 'https://idp.example'
  const cb = (params: Record<string, string>, base = 'http://127.0.0.1:1/callback'): string =>
    `${base}?${new URLSearchParams(params)}`

  test('a success gives the code; iss is checked when an issuer is given', () => {
    expect(parseAuthorizationResponse(cb({ code, state }), { state })).toEqual({ code })
    expect(parseAuthorizationResponse(new URL(cb({ code, state, iss: issuer })), { state, issuer })).toEqual({
      code,
    })
    // iss absent and not required: accepted (servers without RFC 9207)
    expect(parseAuthorizationResponse(cb({ code, state }), { state, issuer })).toEqual({ code })
    // the fragment is ignored: the code flow answers in the query
    expect(parseAuthorizationResponse(`${cb({ code, state })}#code=other&state=x`, { state })).toEqual({
      code,
    })
  })

  test('state missing or different: state_mismatch, echoing neither the code nor a state', () => {
    const cases: Record<string, string>[] = [
      { code },
      { code, state: 'other-state' },
      { code, state: `${state}x` },
      { code, state: '' },
    ]
    for (const params of cases) {
      const err = thrownAuthError(() => parseAuthorizationResponse(cb(params), { state }))
      expect(err.error).toBe('state_mismatch')
      expect(err.message).toMatch(/RFC 6749 §10\.12/)
      expectNoSecrets(err, code, state, 'other-state')
    }
    // an error response with a different state is not trusted either
    const forgedError = thrownAuthError(() =>
      parseAuthorizationResponse(cb({ error: 'access_denied', state: 'other-state' }), { state }),
    )
    expect(forgedError.error).toBe('state_mismatch')
  })

  test('RFC 9207: a different iss, or none when required, is issuer_mismatch', () => {
    const other = thrownAuthError(() =>
      parseAuthorizationResponse(cb({ code, state, iss: 'https://evil.example' }), { state, issuer }),
    )
    expect(other.error).toBe('issuer_mismatch')
    expect(other.message).toContain('"https://evil.example"')
    expectNoSecrets(other, code, state)
    const missing = thrownAuthError(() =>
      parseAuthorizationResponse(cb({ code, state }), { state, issuer, issParameterRequired: true }),
    )
    expect(missing.error).toBe('issuer_mismatch')
    // checked on error responses too (mix-up of errors)
    const mixedError = thrownAuthError(() =>
      parseAuthorizationResponse(cb({ error: 'access_denied', state, iss: 'https://evil.example' }), {
        state,
        issuer,
      }),
    )
    expect(mixedError.error).toBe('issuer_mismatch')
    expect(() =>
      parseAuthorizationResponse(cb({ code, state }), { state, issParameterRequired: true }),
    ).toThrow(TypeError)
  })

  test('an error answer carries the server fields, cleaned of control characters and capped', () => {
    const err = thrownAuthError(() =>
      parseAuthorizationResponse(
        cb({
          error: 'access_denied',
          error_description: `End-User\u001b[31m aborted\u202e interaction ${code} ${'x'.repeat(2000)}`,
          error_uri: 'https://idp.example/errors#denied',
          state,
          // a code next to an error is ignored, and scrubbed like the state from what the server says
          code,
        }),
        { state },
      ),
    )
    expect(err.error).toBe('access_denied')
    expect(err.errorUri).toBe('https://idp.example/errors#denied')
    expect(err.errorDescription?.startsWith('End-User [31m aborted interaction [redacted] xxx')).toBe(true)
    expect(err.errorDescription?.length).toBeLessThanOrEqual(501)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point.
    expect(err.message).not.toMatch(/[\u0000-\u001f\u202e]/)
    expect(err.message).toMatch(/access_denied.*sign in again/)
    expectNoSecrets(err, code, state)
    // without any state (some servers omit it on errors): the server's error, marked unverified
    const stateless = thrownAuthError(() =>
      parseAuthorizationResponse(cb({ error: 'server_error' }), { state }),
    )
    expect(stateless.error).toBe('server_error')
    expect(stateless.message).toMatch(/unverified/)
  })

  test('malformed responses are invalid_response, never a TypeError', () => {
    for (const callback of [
      'not a url',
      '',
      '?code=abc&state=xyz',
      'http://[::1',
      cb({ state }),
      cb({ state, code: '' }),
      `${cb({ state })}#code=${code}`,
      `${cb({ code, state })}&code=${code}2`,
      `${cb({ code, state })}&state=${state}`,
      cb({ state, code: 'bad\u0000code' }),
      cb({ state, code: 'bad\u00e9code' }),
    ]) {
      const err = thrownAuthError(() => parseAuthorizationResponse(callback, { state }))
      expect(['invalid_response', 'state_mismatch']).toContain(err.error)
      expectNoSecrets(err, code, state)
    }
    for (const hostile of [undefined, null, 42, {}, Symbol('x')]) {
      const err = thrownAuthError(() => parseAuthorizationResponse(hostile as unknown as string, { state }))
      expect(err.error).toBe('invalid_response')
    }
    expect(() => parseAuthorizationResponse(cb({ code, state }), { state: '' })).toThrow(TypeError)
  })
})

test.describe('against oidc-provider', () => {
  test('full flow: PKCE, authorize, code grant, refresh with rotation, revoke, then the refresh fails', async () => {
    const op = await provider({ redirectUris: [redirectUri] })
    const metadata = await discover(op.issuer)
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true)
    expect(metadata.code_challenge_methods_supported).toContain('S256')
    const pkce = await createPkce()
    const state = crypto.randomUUID()
    const authorizationUrl = buildAuthorizationUrl(
      metadata.authorization_endpoint ?? '',
      op.webClient.clientId,
      {
        redirectUri,
        codeChallenge: pkce.codeChallenge,
        state,
        scopes,
        // oidc-provider honours offline_access only with prompt=consent (OpenID Connect Core §11)
        prompt: 'consent',
      },
    )
    const callback = await authorizeInteractively(authorizationUrl, { accountId: 'ana' })
    const { code } = parseAuthorizationResponse(callback, {
      state,
      issuer: metadata.issuer,
      issParameterRequired: metadata.authorization_response_iss_parameter_supported,
    })

    const tokens = await getToken(metadata.token_endpoint ?? '', {
      grantType: GrantType.AUTHORIZATION_CODE,
      code,
      redirectUri,
      codeVerifier: pkce.codeVerifier,
      clientId: op.webClient.clientId,
    })
    expect(tokens).toMatchObject({ tokenType: 'Bearer', scope: 'openid offline_access api:read' })
    expect(tokens.idToken).toEqual(expect.any(String))
    expect((await op.provider.AccessToken.find(tokens.accessToken))?.accountId).toBe('ana')

    const refreshed = await getToken(op.tokenEndpoint, {
      grantType: GrantType.REFRESH_TOKEN,
      refreshToken: tokens.refreshToken ?? '',
      clientId: op.webClient.clientId,
    })
    expect(refreshed.refreshToken).toEqual(expect.any(String))
    expect(refreshed.refreshToken).not.toBe(tokens.refreshToken)

    await revokeToken(metadata.revocation_endpoint ?? '', refreshed.refreshToken ?? '', {
      tokenTypeHint: 'refresh_token',
      clientId: op.webClient.clientId,
    })
    const dead = await authError(
      getToken(op.tokenEndpoint, {
        grantType: GrantType.REFRESH_TOKEN,
        refreshToken: refreshed.refreshToken ?? '',
        clientId: op.webClient.clientId,
      }),
    )
    expect(dead.error).toBe('invalid_grant')
    expectNoSecrets(dead, refreshed.refreshToken ?? '')
    // an unknown (or already revoked) token: success (RFC 7009 §2.2)
    await revokeToken(op.revocationEndpoint, refreshed.refreshToken ?? '', {
      clientId: op.webClient.clientId,
    })
    await revokeToken(op.revocationEndpoint, 'no-such-token', { clientId: op.webClient.clientId })
  })

  test('the native CLI client on a random loopback port', async () => {
    const op = await provider()
    const pkce = await createPkce()
    const cliRedirect = `http://127.0.0.1:${50000 + Math.floor(Math.random() * 10000)}/callback`
    const url = buildAuthorizationUrl(op.authorizationEndpoint, op.cliClient.clientId, {
      redirectUri: cliRedirect,
      codeChallenge: pkce.codeChallenge,
      state: 's-1',
      scopes: ['openid', 'api:read'],
    })
    const { code } = parseAuthorizationResponse(await authorizeInteractively(url), {
      state: 's-1',
      issuer: op.issuer,
      issParameterRequired: true,
    })
    const token = await getToken(op.tokenEndpoint, {
      grantType: GrantType.AUTHORIZATION_CODE,
      code,
      redirectUri: cliRedirect,
      codeVerifier: pkce.codeVerifier,
      clientId: op.cliClient.clientId,
    })
    expect(token.refreshToken).toBeUndefined() // no offline_access asked
  })

  test('a wrong verifier is invalid_grant, with neither the code nor a verifier in the error', async () => {
    const op = await provider({ redirectUris: [redirectUri] })
    const pkce = await createPkce()
    const url = buildAuthorizationUrl(op.authorizationEndpoint, op.webClient.clientId, {
      redirectUri,
      codeChallenge: pkce.codeChallenge,
      state: 's-2',
      scopes,
    })
    const { code } = parseAuthorizationResponse(await authorizeInteractively(url), { state: 's-2' })
    const wrong = (await createPkce()).codeVerifier
    const err = await authError(
      getToken(op.tokenEndpoint, {
        grantType: GrantType.AUTHORIZATION_CODE,
        code,
        redirectUri,
        codeVerifier: wrong,
        clientId: op.webClient.clientId,
      }),
    )
    expect(err).toMatchObject({ status: 400, error: 'invalid_grant' })
    expectNoSecrets(err, code, wrong, pkce.codeVerifier)
  })

  test('denied consent, forged state and another issuer are refused', async () => {
    const op = await provider({ redirectUris: [redirectUri] })
    const pkce = await createPkce()
    const url = (state: string) =>
      buildAuthorizationUrl(op.authorizationEndpoint, op.webClient.clientId, {
        redirectUri,
        codeChallenge: pkce.codeChallenge,
        state,
        scopes: ['openid'],
      })

    const deniedCallback = await authorizeInteractively(url('s-deny'), { deny: true })
    const denied = thrownAuthError(() =>
      parseAuthorizationResponse(deniedCallback, {
        state: 's-deny',
        issuer: op.issuer,
        issParameterRequired: true,
      }),
    )
    expect(denied).toMatchObject({ error: 'access_denied', errorDescription: 'End-User aborted interaction' })
    expect(denied.status).toBeUndefined()

    // a real callback for another sign-in (the attacker's), delivered to ours: state_mismatch
    const attackers = await authorizeInteractively(url('attacker-state'), { accountId: 'mallory' })
    const attackerCode = attackers.searchParams.get('code') ?? ''
    const forged = thrownAuthError(() =>
      parseAuthorizationResponse(attackers, { state: 'victim-state', issuer: op.issuer }),
    )
    expect(forged.error).toBe('state_mismatch')
    expectNoSecrets(forged, attackerCode, 'attacker-state', 'victim-state')

    // the response of another server (mix-up): issuer_mismatch, also when iss is stripped
    const callback = await authorizeInteractively(url('s-3'))
    const mixedUp = thrownAuthError(() =>
      parseAuthorizationResponse(callback, { state: 's-3', issuer: 'https://other-idp.example' }),
    )
    expect(mixedUp.error).toBe('issuer_mismatch')
    expectNoSecrets(mixedUp, callback.searchParams.get('code') ?? '')
    const stripped = new URL(callback)
    stripped.searchParams.delete('iss')
    const noIss = thrownAuthError(() =>
      parseAuthorizationResponse(stripped, { state: 's-3', issuer: op.issuer, issParameterRequired: true }),
    )
    expect(noIss.error).toBe('issuer_mismatch')
  })

  test('revocation errors from the real server redact the token', async () => {
    const op = await provider({ redirectUris: [redirectUri] })
    const { clientId, clientSecret } = op.confidentialClient
    const authorizationHeader = getBasicAuthorizationHeader(clientId, clientSecret)
    const { accessToken } = await getToken(op.tokenEndpoint, { authorizationHeader })
    // the web client may not revoke a confidential client's token: 200, nothing done
    await revokeToken(op.revocationEndpoint, accessToken, { clientId: op.webClient.clientId })
    expect(await op.provider.ClientCredentials.find(accessToken)).toBeDefined()
    // no client authentication at all: 400 invalid_request
    const anonymous = await authError(revokeToken(op.revocationEndpoint, accessToken))
    expect(anonymous).toMatchObject({ status: 400, error: 'invalid_request' })
    expectNoSecrets(anonymous, accessToken)
    // a wrong secret: 401 invalid_client, the Basic value and both secrets redacted
    const badHeader = getBasicAuthorizationHeader(clientId, 'wrong-secret-value')
    const wrongSecret = await authError(
      revokeToken(op.revocationEndpoint, accessToken, { authorizationHeader: badHeader }),
    )
    expect(wrongSecret).toMatchObject({ status: 401, error: 'invalid_client' })
    expectNoSecrets(wrongSecret, accessToken, badHeader, 'wrong-secret-value')
    // its own token, Basic authentication: revoked
    await revokeToken(op.revocationEndpoint, accessToken, {
      authorizationHeader,
      tokenTypeHint: 'access_token',
    })
    expect(await op.provider.ClientCredentials.find(accessToken)).toBeUndefined()
  })
})

test.describe('revokeToken (scripted answers)', () => {
  const token = 'rt-secret-token-value'
  const clientSecret = 'cs-secret-value'

  test('sends RFC 7009 §2.1 form fields; 200 empty and 204 are success', async () => {
    const server = await scripted({
      '/revoke': (_req, res, index) => {
        res.writeHead(index === 0 ? 200 : 204)
        res.end()
      },
    })
    await revokeToken(`${server.url}/revoke`, token, {
      tokenTypeHint: 'refresh_token',
      clientId: 'my-client',
      clientSecret,
    })
    await revokeToken(`${server.url}/revoke`, token, {
      authorizationHeader: getBasicAuthorizationHeader('id', clientSecret),
    })
    const [first, second] = server.requests('/revoke')
    expect(first?.method).toBe('POST')
    expect(first?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/)
    expect(Object.fromEntries(first?.form ?? [])).toEqual({
      token,
      token_type_hint: 'refresh_token',
      client_id: 'my-client',
      client_secret: clientSecret,
    })
    expect(Object.fromEntries(second?.form ?? [])).toEqual({ token })
    expect(second?.headers.authorization).toBe(getBasicAuthorizationHeader('id', clientSecret))
  })

  test('errors: unsupported_token_type, 503 Retry-After, OAuth error in a 200, redirects; secrets redacted', async () => {
    const echo = `${token} ${encodeURIComponent(token)} ${clientSecret}`
    const server = await scripted({
      '/unsupported': (_req, res) =>
        json(res, 400, { error: 'unsupported_token_type', error_description: `cannot revoke ${echo}` }),
      '/busy': (_req, res) => text(res, 503, `overloaded ${echo}`, 'text/html'),
      '/ok-error': (_req, res) => json(res, 200, { error: 'invalid_request', error_description: echo }),
      '/redirect': (_req, res) => {
        res.writeHead(307, { location: `https://elsewhere.example/?t=${token}` })
        res.end()
      },
    })
    const options = { clientId: 'c', clientSecret }
    const unsupported = await authError(revokeToken(`${server.url}/unsupported`, token, options))
    expect(unsupported).toMatchObject({ status: 400, error: 'unsupported_token_type' })
    expect(unsupported.errorDescription).toContain('[redacted]')

    server.route('/busy', (_req, res) => {
      res.writeHead(503, { 'retry-after': '7', 'content-type': 'text/plain' })
      res.end(`overloaded ${echo}`)
    })
    const busy = await authError(revokeToken(`${server.url}/busy`, token, options))
    expect(busy).toMatchObject({ status: 503, retryAfter: 7 })
    expect(busy.message).toMatch(/try again later/)

    const okError = await authError(revokeToken(`${server.url}/ok-error`, token, options))
    expect(okError).toMatchObject({ status: 200, error: 'invalid_request' })

    const redirect = await authError(revokeToken(`${server.url}/redirect`, token, options))
    expect(redirect.status).toBe(307)
    for (const err of [unsupported, busy, okError, redirect]) expectNoSecrets(err, token, clientSecret)

    const unreachable = await authError(revokeToken('http://127.0.0.1:1/revoke', token, options))
    expectNoSecrets(unreachable, token, clientSecret)
  })

  test('caller mistakes are TypeErrors', async () => {
    await expect(revokeToken('http://idp.example/revoke', token)).rejects.toThrow(/https:\/\//)
    await expect(revokeToken('https://idp.example/revoke', '')).rejects.toThrow(TypeError)
  })
})

test('getToken with the authorization code grant redacts the code and the verifier from errors', async () => {
  const code = 'authz-code-secret-value'
  const codeVerifier = 'v'.repeat(43)
  const server = await scripted({
    '/token': (req, res) =>
      json(res, 400, {
        error: 'invalid_grant',
        error_description: `bad ${req.form.get('code')} for ${req.form.get('code_verifier')}`,
      }),
  })
  const err = await authError(
    getToken(`${server.url}/token`, {
      grantType: GrantType.AUTHORIZATION_CODE,
      code,
      redirectUri,
      codeVerifier,
      clientId: 'c',
    }),
  )
  expect(err.errorDescription).toBe('bad [redacted] for [redacted]')
  expectNoSecrets(err, code, codeVerifier)
  expect(Object.fromEntries(server.requests('/token')[0]?.form ?? [])).toEqual({
    grant_type: 'authorization_code',
    client_id: 'c',
    code,
    redirect_uri: redirectUri,
    code_verifier: codeVerifier,
  })
})
