/**
 * The CLI's DPoP-bound sessions (RFC 9449), run as child processes (dist/cli.js) against the real oidc-provider,
 * each test with its own TOKEN_CLIENT_HOME: `login --dpop` (device flow approved in the background, or
 * `--browser --no-open`) keeps an ES256 key beside the session file (`<hash>.dpop.jwk`, 0600) and marks the
 * session DPoP-bound; `token` prints the cached token without a request (`Authorization: DPoP` with --output
 * header) and refreshes with a proof by the same key (the provider binds public clients' refresh tokens too,
 * so another key is refused); `status` says DPoP and shows no key material; `logout` revokes and deletes the
 * key file. Also under a provider that demands a nonce in every token-endpoint proof.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import { AuthenticationError, createDPoP, GrantType, getToken } from 'token-client'
import { cliHome, deviceSettings, expectNothingSecret } from '../fixtures/cli-home.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { thumbprint } from '../fixtures/dpop-verifier.ts'
import {
  authorizeInteractively,
  type OidcFixture,
  type StartOidcProviderOptions,
  startOidcProvider,
} from '../fixtures/oidc.ts'

const _cli = 'dist/cli.js'
const closedAfterTest = closeAfterEach(test)
const { tempDir, start, run, loginWithDevice, onlySession, expire } = cliHome(closedAfterTest)

async function provider(opts?: StartOidcProviderOptions): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider({ deviceInterval: 1, ...opts }))
}

for (const dpopNonce of [undefined, 'required'] as const) {
  test(`login --dpop (device flow)${dpopNonce === undefined ? '' : ', nonce required'}: token cached, bound to the key file, refreshed with a proof by it; status, logout`, async () => {
    const op = await provider(dpopNonce === undefined ? {} : { dpopNonce })
    const home = await tempDir('cli-dpop-home-')
    const settings = deviceSettings(op)
    await loginWithDevice(op, home, [...settings, '--dpop'])

    const { data, keyFile } = await onlySession(home)
    expect(data.session).toMatchObject({ kind: 'user', flow: 'device', dpop: true })
    expect(data.tokenType).toBe('DPoP')
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600)
    const jwk = JSON.parse(await readFile(keyFile, 'utf8')) as Record<string, unknown>
    const jkt = thumbprint(jwk)
    expect(data.jkt).toBe(jkt)

    // From the cache, twice: no request, and the session file alone tells the scheme.
    const requestsAfterLogin = op.tokenRequests()
    const first = await run(home, ['token', ...settings])
    const second = await run(home, ['token', ...settings, '--output', 'header'])
    expect(first.code).toBe(0)
    expect(first.stderr).toBe('')
    const accessToken = first.stdout.trim()
    expect(second.stdout).toBe(`Authorization: DPoP ${accessToken}\n`)
    expect(op.tokenRequests()).toBe(requestsAfterLogin)
    expect((await op.provider.AccessToken.find(accessToken))?.jkt).toBe(jkt)

    await expire(home)
    const requests = op.tokenRequests()
    const renewed = await run(home, ['token', ...settings, '--json'])
    expect(renewed.stderr).toBe('')
    expect(renewed.code).toBe(0)
    // One refresh; a required nonce first costs one use_dpop_nonce answer (nonces are not kept between runs).
    expect(op.tokenRequests()).toBe(requests + (dpopNonce === 'required' ? 2 : 1))
    const body = JSON.parse(renewed.stdout) as Record<string, unknown>
    expect(body.token_type).toBe('DPoP')
    expect(body.access_token).not.toBe(accessToken)
    expect((await op.provider.AccessToken.find(String(body.access_token)))?.jkt).toBe(jkt)
    const after = await onlySession(home)
    expect(after.data.jkt).toBe(jkt)
    const refreshToken = String(after.data.refreshToken)
    expect((await op.provider.RefreshToken.find(refreshToken))?.jkt).toBe(jkt)

    // The refresh token is bound: a proof by another key is refused.
    const otherKey = await createDPoP()
    const refused = await getToken(op.tokenEndpoint, {
      grantType: GrantType.REFRESH_TOKEN,
      refreshToken,
      clientId: op.deviceClient.clientId,
      dpop: otherKey,
    }).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(AuthenticationError)

    const status = await run(home, ['status'])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain(`token type:     DPoP-bound, key in ${keyFile}`)
    const statusJson = await run(home, ['status', '--json'])
    expect(JSON.parse(statusJson.stdout)).toMatchObject([{ tokenType: 'DPoP', dpopKeyFile: keyFile }])
    for (const result of [status, statusJson]) {
      expectNothingSecret(result, jwk.d, jwk.x, jwk.y, refreshToken, String(body.access_token))
    }

    const logout = await run(home, ['logout', ...settings])
    expect(logout.stderr).toContain('the server revoked the tokens')
    expect(logout.code).toBe(0)
    expect(existsSync(keyFile)).toBe(false)
    expect(await readdir(join(home, 'sessions'))).toEqual([])
    expect(await op.provider.RefreshToken.find(refreshToken)).toBeUndefined()
  })
}

test('login --dpop --browser: the code is bound to the key (dpop_jkt), and the session refreshes with it', async () => {
  const op = await provider()
  const home = await tempDir('cli-dpop-home-')
  const settings = [
    '--issuer',
    op.issuer,
    '--client-id',
    op.cliClient.clientId,
    '--scope',
    'openid offline_access',
  ]
  const login = start(home, ['login', '--browser', '--no-open', '--dpop', ...settings])
  const [, url] = await login.waitFor('stderr', /open this page in a browser:\s+(\S+)\n/)
  const authorizationUrl = new URL(url ?? '')
  const landed = await fetch(await authorizeInteractively(authorizationUrl))
  expect(landed.status).toBe(200)
  const result = await login.exited
  expect(result.code).toBe(0)

  const { data, keyFile } = await onlySession(home)
  expect(data.session).toMatchObject({ flow: 'browser', dpop: true })
  const jkt = thumbprint(JSON.parse(await readFile(keyFile, 'utf8')) as Record<string, unknown>)
  expect(authorizationUrl.searchParams.get('dpop_jkt')).toBe(jkt)
  const token = await run(home, ['token', ...settings])
  expect((await op.provider.AccessToken.find(token.stdout.trim()))?.jkt).toBe(jkt)

  await expire(home)
  const requests = op.tokenRequests()
  const renewed = await run(home, ['token', ...settings, '--output', 'header'])
  expect(renewed.code).toBe(0)
  expect(renewed.stdout).toMatch(/^Authorization: DPoP [\w-]+\n$/)
  expect(op.tokenRequests()).toBe(requests + 1)

  const logout = await run(home, ['logout', ...settings])
  expect(logout.code).toBe(0)
  expect(existsSync(keyFile)).toBe(false)
})

test('a DPoP session without its key asks for a new login --dpop; a Bearer login replacing it deletes the key', async () => {
  const op = await provider()
  const home = await tempDir('cli-dpop-home-')
  const settings = deviceSettings(op)
  await loginWithDevice(op, home, [...settings, '--dpop'])
  const { keyFile } = await onlySession(home)

  // Another key than the one the tokens are bound to: the stored set is not taken, nothing is sent with it.
  await rm(keyFile)
  await expire(home)
  const lost = await run(home, ['token', ...settings])
  expect(lost.code).toBe(1)
  expect(lost.stdout).toBe('')
  expect(lost.stderr).toContain(`token-client login ${settings.slice(0, 4).join(' ')}`)
  expect(lost.stderr).toMatch(/--dpop\n/)

  await loginWithDevice(op, home, settings)
  const { data } = await onlySession(home)
  expect(data.tokenType).toBe('Bearer')
  expect((data.session as Record<string, unknown>).dpop).toBeUndefined()
  expect(existsSync(keyFile)).toBe(false)
})
