/**
 * `npm run demo` (after `npm run build`): the `token-client` CLI (dist/cli.js) against an embedded OpenID
 * Connect server (oidc-provider on 127.0.0.1). Runs `token-client device` as a child process, shows what it
 * tells the person (verification URL and code), approves the code in the background the way a person would
 * (through the server's own pages: enter the code, confirm, sign in, consent), and prints the result; then a
 * `token-client refresh` with the refresh token it got, and a `token-client client-credentials`. Then the
 * library's LoopbackAuthenticator (token-client/node): sign-in with the system browser for a CLI (RFC 8252
 * loopback redirect + PKCE), the browser's part done in the background with fetch through the server's own
 * login and consent pages (no browser needed), then a renewal with the refresh token and a sign-out.
 * Ends by itself. Tokens are shown only as their first 8 characters; state and PKCE challenge are elided.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { LoopbackAuthenticator } from 'token-client/node'
import {
  approveInteractively,
  authorizeInteractively,
  type OidcFixture,
  startOidcProvider,
} from '../tests/fixtures/oidc.ts'

const cli = new URL('../dist/cli.js', import.meta.url).pathname

interface CliResult {
  code: number | null
  stdout: string
}

function mask(token: unknown): string {
  return typeof token === 'string' ? `${token.slice(0, 8)}…` : '(none)'
}

/**
 * Runs `token-client` with `args` and `env`; every stderr line (what the person sees) is echoed indented, and
 * handed to `onStderrLine`.
 */
function tokenClient(
  args: string[],
  env: Record<string, string> = {},
  onStderrLine: (line: string) => void = () => {},
): Promise<CliResult> {
  console.log(`\n$ token-client ${args.join(' ')}`)
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8')
  })
  createInterface({ input: child.stderr }).on('line', (line) => {
    console.log(`  | ${line}`)
    onStderrLine(line)
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })))
}

function showToken(title: string, result: CliResult): Record<string, unknown> {
  if (result.code !== 0) throw new Error(`token-client exited with ${result.code}`)
  const token = JSON.parse(result.stdout) as Record<string, unknown>
  console.log(`\n${title} (exit code 0, JSON on stdout)`)
  console.log(`  token type     ${String(token.token_type ?? '(not given)')}`)
  console.log(`  scope          ${String(token.scope ?? '(not given)')}`)
  console.log(`  expires at     ${String(token.expires_at ?? '(not given)')}`)
  console.log(`  access token   ${mask(token.access_token)}`)
  console.log(`  refresh token  ${mask(token.refresh_token)}`)
  return token
}

/** Approves the device code shown by the CLI as a person would, once both the URL and the code were shown. */
function approverFor(op: OidcFixture): (line: string) => void {
  let verificationUri: string | undefined
  let awaitingCode = false
  let approving = false
  return (line) => {
    const trimmed = line.trim()
    if (verificationUri === undefined && trimmed.startsWith(`${op.issuer}/`)) verificationUri = trimmed
    if (trimmed === 'and enter the code:') awaitingCode = true
    else if (awaitingCode && trimmed !== '' && verificationUri !== undefined && !approving) {
      approving = true
      const userCode = trimmed
      const uri = verificationUri
      // About a second later, someone opens the page on their phone and approves.
      setTimeout(() => {
        approveInteractively(uri, userCode).then(
          () => console.log('  (approved in the background through the verification page)'),
          (err: unknown) =>
            console.log(`  (approval failed: ${err instanceof Error ? err.message : String(err)})`),
        )
      }, 1000)
    }
  }
}

/** The authorization URL as shown to the person, with the per-request values elided. */
function shownUrl(url: URL): string {
  return url.href.replace(/([?&](?:state|code_challenge)=)[^&]*/g, '$1…')
}

/**
 * What a CLI built on LoopbackAuthenticator does; the "system browser" is fetch walking the provider's pages
 * (authorizeInteractively), then following the redirect to the CLI's loopback server.
 */
async function loopbackSignIn(op: OidcFixture): Promise<void> {
  console.log('\n$ (a CLI using the library) new LoopbackAuthenticator({ ... }).getAccessToken()')
  let browser: Promise<void> = Promise.resolve()
  const auth = new LoopbackAuthenticator({
    issuer: op.issuer,
    clientId: op.cliClient.clientId,
    scopes: ['openid', 'offline_access', 'api:read'],
    // oidc-provider grants offline_access (a refresh token) only with prompt=consent.
    prompt: 'consent',
    callbackTimeout: 30_000,
    onAuthorizationUrl: (url) => {
      console.log(`  | Open this URL in your browser to sign in:\n  |   ${shownUrl(url)}`)
      const redirect = new URL(url.searchParams.get('redirect_uri') ?? '')
      console.log(`  | Waiting for the browser to come back to ${redirect.origin}${redirect.pathname} ...`)
      // About half a second later the browser opens; the person signs in and consents.
      browser = new Promise((resolve) => setTimeout(resolve, 500))
        .then(() => authorizeInteractively(url))
        .then((callback) => fetch(callback))
        .then(async (res) => {
          const title = /<h1>([^<]*)<\/h1>/.exec(await res.text())?.[1] ?? '(no title)'
          console.log(
            `  (the browser signed in on the provider's pages and shows "${title}", HTTP ${res.status})`,
          )
        })
      browser.catch((err: unknown) =>
        console.log(`  (the browser failed: ${err instanceof Error ? err.message : String(err)})`),
      )
    },
  })
  const token = await auth.getAccessToken()
  await browser
  console.log('\nLoopback sign-in result')
  console.log(`  access token   ${mask(token)}`)
  await auth.invalidate()
  const renewed = await auth.getAccessToken()
  console.log(`  renewed        ${mask(renewed)} (with the refresh token, no browser this time)`)
  const { revoked } = await auth.signOut()
  console.log(`  signed out     ${revoked ? 'tokens revoked at the server (RFC 7009)' : 'locally only'}`)
}

// The server sends `interval: 1` so that the demo does not sit through RFC 8628's default 5 seconds.
const op = await startOidcProvider({ deviceInterval: 1 })
console.log(`Authorization server: ${op.issuer}`)
console.log(
  '(On a terminal, token-client also draws a QR code and a live countdown; here its stderr is a pipe, so it prints plain lines.)',
)

try {
  const device = await tokenClient(
    [
      'device',
      '--issuer',
      op.issuer,
      '--client-id',
      op.deviceClient.clientId,
      '--scope',
      'openid',
      '--scope',
      'offline_access',
      '--scope',
      'api:read',
      '--json',
    ],
    {},
    approverFor(op),
  )
  const signedIn = showToken('Device flow result', device)

  // The refresh token goes in through the environment, never on the command line.
  const refreshed = await tokenClient(
    ['refresh', '--issuer', op.issuer, '--client-id', op.deviceClient.clientId, '--json'],
    { TOKEN_CLIENT_REFRESH_TOKEN: String(signedIn.refresh_token) },
  )
  showToken('Refresh result (the refresh token was rotated)', refreshed)

  const service = await tokenClient(
    [
      'client-credentials',
      '--issuer',
      op.issuer,
      '--client-id',
      op.confidentialClient.clientId,
      '--scope',
      'api:read',
      '--json',
    ],
    { TOKEN_CLIENT_SECRET: op.confidentialClient.clientSecret },
  )
  showToken('Client credentials result', service)

  await loopbackSignIn(op)
  console.log('\nDone.')
} catch (err) {
  console.error(`\nDemo failed: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
} finally {
  await op.close()
}
