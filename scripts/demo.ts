/**
 * `npm run demo` (after `npm run build`): the `token-client` CLI (dist/cli.js) against an embedded OpenID
 * Connect server (oidc-provider on 127.0.0.1). Runs `token-client device` as a child process, shows what it
 * tells the person (verification URL and code), approves the code in the background the way a person would
 * (through the server's own pages: enter the code, confirm, sign in, consent), and prints the result; then a
 * `token-client refresh` with the refresh token it got, and a `token-client client-credentials`. Ends by itself.
 * Tokens are shown only as their first 8 characters.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { approveInteractively, type OidcFixture, startOidcProvider } from '../tests/fixtures/oidc.ts'

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
  console.log('\nDone.')
} catch (err) {
  console.error(`\nDemo failed: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
} finally {
  await op.close()
}
