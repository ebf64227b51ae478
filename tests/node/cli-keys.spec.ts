/**
 * The CLI (dist/cli.js, a child process) with keys instead of shared secrets, against oidc-provider:
 * - `client-credentials --client-key-file key.pem` (private_key_jwt, RFC 7523; PEM PKCS#8) and a JWK JSON key
 *   file with `--client-key-id`; a wrong key is invalid_client, and neither the key nor an assertion is printed;
 * - `--client-auth tls_client_auth --client-cert --client-cert-key` (RFC 8705) over https: the certificate
 *   authenticates, the token is certificate-bound (`x5t#S256`);
 * - `--dpop` (RFC 9449): the issued token has `cnf.jkt`; `--dpop-key-file` keeps the key (0600) for the next run;
 * - usage errors for inconsistent flags; the key file's path in messages, never its content.
 */
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import { type ProcessResult, startProcess } from '../fixtures/child-process.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { thumbprint } from '../fixtures/dpop-verifier.ts'
import { startOidcProvider } from '../fixtures/oidc.ts'
import { createClientCertificate, createTestCa } from '../fixtures/tls.ts'

const cli = 'dist/cli.js'
const closedAfterTest = closeAfterEach(test)

/** Runs the CLI with this environment minus TOKEN_CLIENT_* and proxy variables, plus `env`. */
function run(args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('TOKEN_CLIENT_') && !/^(https?|all|no)_proxy$/i.test(key),
    ),
  )
  return closedAfterTest(startProcess(process.execPath, [cli, ...args], { env: { ...base, ...env } })).exited
}

interface KeyFiles {
  dir: string
  pem: string
  pemPath: string
  jwkPath: string
  kid: string
  publicJwk: Record<string, unknown>
}

async function keyFiles(): Promise<KeyFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-keys-'))
  closedAfterTest({ close: () => rm(dir, { recursive: true, force: true }) })
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const kid = randomBytes(6).toString('hex')
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const pemPath = join(dir, 'key.pem')
  const jwkPath = join(dir, 'key.json')
  await writeFile(pemPath, pem, { mode: 0o600 })
  await writeFile(jwkPath, JSON.stringify(privateKey.export({ format: 'jwk' })), { mode: 0o600 })
  const publicJwk = { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid }
  return { dir, pem, pemPath, jwkPath, kid, publicJwk }
}

const keyClient = (publicJwk: Record<string, unknown>): Record<string, unknown> => ({
  client_id: 'svc-key',
  token_endpoint_auth_method: 'private_key_jwt',
  jwks: { keys: [publicJwk] },
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'api:read',
})

function expectNoKey(result: ProcessResult, pem: string): void {
  const out = result.stdout + result.stderr
  for (const line of pem.split('\n').slice(1, -2)) expect(out).not.toContain(line)
  // No assertion or proof (a JWT) in what is printed, unless it is the access token itself (opaque here).
  expect(result.stderr).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/)
}

test('client-credentials with private_key_jwt: a PEM key file, a JWK key file with its kid; a wrong key is refused', async () => {
  const keys = await keyFiles()
  const op = closedAfterTest(await startOidcProvider({ extraClients: [keyClient(keys.publicJwk)] }))
  const common = ['client-credentials', '--token-endpoint', op.tokenEndpoint, '--client-id', 'svc-key']

  const byPem = await run([...common, '--client-key-file', keys.pemPath, '--scope', 'api:read', '--json'])
  expect(byPem.stderr).toBe('')
  expect(byPem.code).toBe(0)
  const token = JSON.parse(byPem.stdout) as { access_token: string; token_type: string }
  expect(token.token_type).toBe('Bearer')
  expect((await op.provider.ClientCredentials.find(token.access_token))?.clientId).toBe('svc-key')
  expectNoKey(byPem, keys.pem)

  const byJwk = await run([
    ...common,
    '--client-auth',
    'private_key_jwt',
    '--client-key-file',
    keys.jwkPath,
    '--client-key-id',
    keys.kid,
  ])
  expect(byJwk.code).toBe(0)
  expect(byJwk.stdout.trim()).toMatch(/^[\w-]+$/)

  // Another key than the registered one: invalid_client, exit 1, the file named and nothing of it shown.
  const other = await keyFiles()
  const wrong = await run([...common, '--client-key-file', other.pemPath])
  expect(wrong.code).not.toBe(0)
  expect(wrong.stderr).toMatch(/invalid_client/)
  expectNoKey(wrong, other.pem)

  // A file that holds no key: a configuration error naming the file, never its content.
  const junk = join(keys.dir, 'junk.txt')
  await writeFile(junk, 'not-a-key-but-secret-looking-text')
  const bad = await run([...common, '--client-key-file', junk])
  expect(bad.code).not.toBe(0)
  expect(bad.stderr).toContain(junk)
  expect(bad.stderr).not.toContain('secret-looking')
  const missing = await run([...common, '--client-key-file', join(keys.dir, 'nope.pem')])
  expect(missing.stderr).toMatch(/cannot read .*nope\.pem/)
})

test('client-credentials with tls_client_auth: the certificate authenticates over https; the token is certificate-bound', async () => {
  const ca = closedAfterTest(await createTestCa())
  const client = closedAfterTest(await createClientCertificate('cli-mtls'))
  const op = closedAfterTest(
    await startOidcProvider({
      tls: { key: ca.key, cert: ca.cert, clientCa: ca.caPem },
      extraClients: [
        {
          client_id: 'cli-mtls',
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_auth_subject_dn: client.subject,
          tls_client_certificate_bound_access_tokens: true,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          scope: 'api:read',
        },
      ],
    }),
  )
  const common = [
    'client-credentials',
    '--token-endpoint',
    op.tokenEndpoint,
    '--client-id',
    'cli-mtls',
    '--cacert',
    ca.caPath,
    '--client-auth',
    'tls_client_auth',
  ]
  const result = await run([...common, '--client-cert', client.certPath, '--client-cert-key', client.keyPath])
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  const stored = await op.provider.ClientCredentials.find(result.stdout.trim())
  expect(stored?.clientId).toBe('cli-mtls')
  const der = new X509Certificate(client.cert).raw
  expect(stored?.['x5t#S256']).toBe(createHash('sha256').update(der).digest('base64url'))
  expect(result.stdout + result.stderr).not.toContain(client.key.split('\n')[1] ?? '')

  // Usage errors: no certificate for tls_client_auth; a certificate without its key.
  const noCert = await run(common)
  expect(noCert.code).toBe(2)
  expect(noCert.stderr).toMatch(/tls_client_auth authenticates by certificate/)
  const halfCert = await run([...common, '--client-cert', client.certPath])
  expect(halfCert.code).toBe(2)
  expect(halfCert.stderr).toMatch(/--client-cert and --client-cert-key go together/)
})

test('client-credentials --dpop: the token is DPoP-bound (cnf.jkt); --dpop-key-file keeps one key (0600) across runs', async () => {
  const keys = await keyFiles()
  const op = closedAfterTest(
    await startOidcProvider({ dpopNonce: 'required', extraClients: [keyClient(keys.publicJwk)] }),
  )
  const common = [
    'client-credentials',
    '--token-endpoint',
    op.tokenEndpoint,
    '--client-id',
    'svc-key',
    '--client-key-file',
    keys.pemPath,
    '--scope',
    'api:read',
  ]
  const ephemeral = await run([...common, '--dpop', '--json'])
  expect(ephemeral.stderr).toBe('')
  expect(ephemeral.code).toBe(0)
  const bound = JSON.parse(ephemeral.stdout) as { access_token: string; token_type: string }
  expect(bound.token_type).toBe('DPoP')
  expect((await op.provider.ClientCredentials.find(bound.access_token))?.jkt).toEqual(expect.any(String))
  expectNoKey(ephemeral, keys.pem)

  const dpopKey = join(keys.dir, 'dpop', 'key.json')
  const first = await run([...common, '--dpop-key-file', dpopKey, '--output', 'header'])
  expect(first.code).toBe(0)
  expect(first.stdout).toMatch(/^Authorization: DPoP [\w-]+\n$/)
  expect((await stat(dpopKey)).mode & 0o777).toBe(0o600)
  const { readFile } = await import('node:fs/promises')
  const jwk = JSON.parse(await readFile(dpopKey, 'utf8')) as Record<string, unknown>
  const jkt = thumbprint(jwk)
  const second = await run([...common, '--dpop-key-file', dpopKey])
  for (const result of [first, second]) {
    const accessToken = result.stdout.replace(/^Authorization: DPoP /, '').trim()
    expect((await op.provider.ClientCredentials.find(accessToken))?.jkt).toBe(jkt)
  }
  expect(first.stdout + first.stderr).not.toContain(String(jwk.d))

  // --cache needs the key in the next run too.
  const cached = await run([...common, '--dpop', '--cache'], { TOKEN_CLIENT_HOME: join(keys.dir, 'home') })
  expect(cached.code).toBe(2)
  expect(cached.stderr).toMatch(/--dpop-key-file/)
})
