/**
 * The `token-client` CLI (dist/cli.js) run as a child process against the real oidc-provider: stdout, stderr
 * and exit codes of every command, usage errors, authentication failures, Ctrl-C while polling, the QR code and
 * countdown on a terminal (a pseudo-terminal from util-linux `script`), --proxy through a real proxy, and the
 * client-credentials command under Deno. Secrets go in through the environment or stdin, never argv, and
 * never come out.
 */
import { expect, test } from '@playwright/test'
import { getDeviceCode, pollTokenEndpoint } from 'token-client'
import { renderUnicodeCompact } from 'uqr'
import { type ProcessResult, type StartedProcess, startProcess } from '../fixtures/child-process.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { type OidcFixture, type StartOidcProviderOptions, startOidcProvider } from '../fixtures/oidc.ts'
import { startProxy } from '../fixtures/proxy.ts'
import { json, startScriptedServer } from '../fixtures/scripted-server.ts'
import { createTestCa, startHttpsTokenServer } from '../fixtures/tls.ts'
import { packageWithoutUndici } from '../fixtures/without-undici.ts'

const cli = 'dist/cli.js'
const deno = 'node_modules/.bin/deno'
const closedAfterTest = closeAfterEach(test)

async function provider(opts?: StartOidcProviderOptions): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider(opts))
}

/**
 * Starts the CLI (`node dist/cli.js`, or `command` + dist/cli.js) with this environment minus any
 * TOKEN_CLIENT_* and proxy variable (HTTPS_PROXY, no_proxy, ...), plus `env`, feeding it `stdin`.
 */
function start(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; command?: string[] } = {},
): StartedProcess {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('TOKEN_CLIENT_') && !/^(https?|all|no)_proxy$/i.test(key),
    ),
  )
  const [program = process.execPath, ...prefix] = options.command ?? [process.execPath]
  return closedAfterTest(
    startProcess(program, [...prefix, cli, ...args], {
      env: { ...base, ...options.env },
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    }),
  )
}

/** Runs the CLI to its end. */
const run = (...params: Parameters<typeof start>): Promise<ProcessResult> => start(...params).exited

/** `device` with explicit endpoints (no discovery), for the device client. */
function deviceArgs(op: OidcFixture, ...extra: string[]): string[] {
  return [
    'device',
    '--token-endpoint',
    op.tokenEndpoint,
    '--device-endpoint',
    op.deviceAuthorizationEndpoint,
    '--client-id',
    op.deviceClient.clientId,
    ...extra,
  ]
}

function expectNoSecret(result: { stdout: string; stderr: string }, secret: string): void {
  expect(result.stdout).not.toContain(secret)
  expect(result.stderr).not.toContain(secret)
}

test.describe('token-client CLI', () => {
  test('--help for the CLI and for each command; no command is a usage error', async () => {
    const results = await Promise.all([
      run(['--help']),
      run(['device', '--help']),
      run(['client-credentials', '-h']),
      run(['refresh', '--help']),
      run(['help', 'discover']),
      run([]),
    ])
    const [top, device, clientCredentials, refresh, discover, none] = results
    expect(top?.code).toBe(0)
    expect(top?.stdout).toContain('Usage: token-client <command>')
    for (const [result, command] of [
      [device, 'device'],
      [clientCredentials, 'client-credentials'],
      [refresh, 'refresh'],
      [discover, 'discover'],
    ] as const) {
      expect(result?.code).toBe(0)
      expect(result?.stdout).toContain(`Usage: token-client ${command}`)
      expect(result?.stderr).toBe('')
    }
    expect(clientCredentials?.stdout).toContain('TOKEN_CLIENT_SECRET')
    expect(none?.code).toBe(2)
    expect(none?.stdout).toBe('')
    expect(none?.stderr).toContain('No command given')
  })

  test('usage errors exit 2 and never echo what might be a secret', async () => {
    const secret = 'hunter2-very-secret'
    const endpoint = ['--token-endpoint', 'http://127.0.0.1:9/token']
    const cases: Array<[string[], RegExp, Record<string, string>?]> = [
      [['frobnicate'], /Unknown command/],
      [
        ['client-credentials', ...endpoint, '--client-id', 'c', `--client-secret=${secret}`],
        /never taken from the command line/,
      ],
      [
        ['client-credentials', ...endpoint, '--client-id', 'c', '--client-secret', secret],
        /never taken from the command line/,
      ],
      [
        ['refresh', ...endpoint, '--client-id', 'c', '--refresh-token', secret],
        /never taken from the command line/,
      ],
      [['client-credentials', ...endpoint, '--client-id', 'c', secret], /no positional arguments/],
      [['client-credentials', ...endpoint, '--client-id', 'c', '--scope', `-${secret}`], /is ambiguous/],
      [['client-credentials', ...endpoint], /--client-id is required/],
      [['client-credentials', '--client-id', 'c'], /--issuer, or --token-endpoint/],
      [['device', ...endpoint, '--client-id', 'c'], /--device-endpoint/],
      [
        ['client-credentials', '--token-endpoint', 'http://idp.example/token', '--client-id', 'c'],
        /--allow-insecure-http/,
      ],
      [
        ['client-credentials', ...endpoint, '--client-id', 'c', '--frobnicate'],
        /Unknown option '--frobnicate'/,
      ],
      [['client-credentials', ...endpoint, '--client-id', 'c'], /No client secret/],
      [['refresh', ...endpoint, '--client-id', 'c'], /No refresh token/, { TOKEN_CLIENT_SECRET: secret }],
      [
        ['client-credentials', ...endpoint, '--client-id', 'c', '--cacert', 'ca.pem', '--insecure'],
        /contradict/,
      ],
      [['client-credentials', ...endpoint, '--client-id', 'c', '--client-auth', 'digest'], /--client-auth/],
      [['discover'], /--issuer is required/],
      [
        ['discover', '--issuer', `https://admin:${secret}@idp.example`],
        /must not carry a user name or password/,
      ],
      [
        ['discover', '--issuer', 'http://127.0.0.1:9', '--proxy', `http://u:${secret}@127.0.0.1:3128`],
        /put a proxy URL with credentials in TOKEN_CLIENT_PROXY/,
      ],
    ]
    const results = await Promise.all(cases.map(([args, , env]) => run(args, env ? { env } : {})))
    results.forEach((result, index) => {
      const [args, pattern] = cases[index] ?? [[], /$/]
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr, args.join(' ')).toMatch(pattern)
      expect(result.stderr).toContain('--help')
      expect(result.stdout).toBe('')
      expectNoSecret(result, secret)
    })
  })

  test('discover prints the metadata as JSON', async () => {
    const op = await provider()
    const result = await run(['discover', '--issuer', op.issuer])
    expect(result.code).toBe(0)
    const metadata = JSON.parse(result.stdout) as Record<string, unknown>
    expect(metadata.issuer).toBe(op.issuer)
    expect(metadata.token_endpoint).toBe(op.tokenEndpoint)
    expect(metadata.device_authorization_endpoint).toBe(op.deviceAuthorizationEndpoint)
    const mismatch = await run(['discover', '--issuer', `${op.issuer}/`])
    expect(mismatch.code).toBe(1)
    expect(mismatch.stderr).toContain('RFC 8414 §3.3')
  })

  test('client-credentials: the token alone on stdout, or JSON; the secret from the environment or stdin', async () => {
    const op = await provider()
    const { clientId, clientSecret } = op.confidentialClient
    const args = ['client-credentials', '--issuer', op.issuer, '--client-id', clientId, '--scope', 'api:read']
    expect(args.join(' ')).not.toContain(clientSecret)
    const [plain, asJson, fromStdin] = await Promise.all([
      run(args, { env: { TOKEN_CLIENT_SECRET: clientSecret } }),
      run([...args, '--json'], { env: { TOKEN_CLIENT_SECRET: clientSecret } }),
      run(
        [
          'client-credentials',
          '--token-endpoint',
          op.tokenEndpoint,
          '--client-id',
          clientId,
          '--client-secret-stdin',
        ],
        {
          stdin: `${clientSecret}\n`,
        },
      ),
    ])
    for (const result of [plain, asJson, fromStdin]) {
      expect(result.code).toBe(0)
      expect(result.stderr).toBe('')
      expectNoSecret(result, clientSecret)
    }
    expect(plain.stdout).toMatch(/^[\w-]+\n$/)
    const model = await op.provider.ClientCredentials.find(plain.stdout.trim())
    expect(model?.clientId).toBe(clientId)
    expect(model?.scope).toBe('api:read')

    const body = JSON.parse(asJson.stdout) as Record<string, unknown>
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'api:read' })
    expect(Date.parse(String(body.expires_at))).toBeGreaterThan(Date.now() + 3_500_000)
    expect(await op.provider.ClientCredentials.find(String(body.access_token))).toBeTruthy()
    expect(await op.provider.ClientCredentials.find(fromStdin.stdout.trim())).toBeTruthy()
  })

  test('authentication failure exits 1 with the reason on stderr, nothing on stdout', async () => {
    const op = await provider()
    const wrong = 'wrong-secret-value-123'
    const result = await run(
      [
        'client-credentials',
        '--token-endpoint',
        op.tokenEndpoint,
        '--client-id',
        op.confidentialClient.clientId,
      ],
      { env: { TOKEN_CLIENT_SECRET: wrong } },
    )
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('invalid_client')
    expectNoSecret(result, wrong)

    const unreachable = await run(['discover', '--issuer', 'http://127.0.0.1:9'])
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toContain('Could not reach')
  })

  test('plain http beyond loopback needs --allow-insecure-http', async () => {
    const op = await provider()
    // 0.0.0.0 reaches this machine but is not a loopback name: it stands for a remote http host.
    const endpoint = op.tokenEndpoint.replace('127.0.0.1', '0.0.0.0')
    const args = [
      'client-credentials',
      '--token-endpoint',
      endpoint,
      '--client-id',
      op.confidentialClient.clientId,
    ]
    const env = { TOKEN_CLIENT_SECRET: op.confidentialClient.clientSecret }
    const [refused, allowed] = await Promise.all([
      run(args, { env }),
      run([...args, '--allow-insecure-http'], { env }),
    ])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('--allow-insecure-http')
    expect(allowed.code).toBe(0)
    expect(await op.provider.ClientCredentials.find(allowed.stdout.trim())).toBeTruthy()
  })

  test('--proxy or TOKEN_CLIENT_PROXY (with its password) through real proxies; a bad --cacert is a usage error', async () => {
    const op = await provider()
    const forward = closedAfterTest(await startProxy())
    const proxyPassword = 'proxy-secret-123'
    const guarded = closedAfterTest(
      await startProxy({ credentials: { username: 'cli', password: proxyPassword } }),
    )
    const env = { TOKEN_CLIENT_SECRET: op.confidentialClient.clientSecret }
    const base = [
      'client-credentials',
      '--token-endpoint',
      op.tokenEndpoint,
      '--client-id',
      op.confidentialClient.clientId,
    ]
    const [viaProxy, viaEnvironment, badCa] = await Promise.all([
      run([...base, '--proxy', forward.url], { env }),
      run(base, { env: { ...env, TOKEN_CLIENT_PROXY: guarded.urlWithCredentials } }),
      run([...base, '--cacert', '/nonexistent/ca.pem'], { env }),
    ])
    for (const result of [viaProxy, viaEnvironment]) {
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(await op.provider.ClientCredentials.find(result.stdout.trim())).toBeTruthy()
    }
    expect(forward.carried().map(({ kind, target }) => ({ kind, target }))).toEqual([
      { kind: 'request', target: op.tokenEndpoint },
    ])
    expect(guarded.carried()).toMatchObject([{ kind: 'request', target: op.tokenEndpoint, authorized: true }])
    expectNoSecret(viaEnvironment, proxyPassword)
    expect(badCa.code).toBe(2)
    expect(badCa.stderr).toContain('/nonexistent/ca.pem')
    expect(op.tokenRequests()).toBe(2)
  })

  test('without --proxy, the proxy comes from HTTPS_PROXY unless NO_PROXY lists the host; --proxy overrides', async () => {
    const ca = closedAfterTest(await createTestCa())
    const server = closedAfterTest(await startHttpsTokenServer(ca))
    const fromEnvironment = closedAfterTest(await startProxy())
    const fromFlag = closedAfterTest(await startProxy())
    const args = ['client-credentials', '--token-endpoint', server.tokenEndpoint, '--client-id', 'c']
    const env = { TOKEN_CLIENT_SECRET: 'x', HTTPS_PROXY: fromEnvironment.url }
    const tunnels = [{ kind: 'connect', target: new URL(server.url).host }]

    const proxied = await run([...args, '--cacert', ca.caPath], { env })
    expect(proxied.stderr).toBe('')
    expect(proxied.stdout).toBe('tls-token\n')
    expect(fromEnvironment.carried()).toMatchObject(tunnels)

    const bypassed = await run([...args, '--cacert', ca.caPath], {
      env: { ...env, NO_PROXY: 'idp.example,127.0.0.1' },
    })
    expect(bypassed.stdout).toBe('tls-token\n')
    expect(fromEnvironment.carried()).toHaveLength(1)

    const overridden = await run([...args, '--cacert', ca.caPath, '--proxy', fromFlag.url], { env })
    expect(overridden.stdout).toBe('tls-token\n')
    expect(fromFlag.carried()).toMatchObject(tunnels)
    expect(fromEnvironment.carried()).toHaveLength(1)
    expect(server.tokenRequests()).toBe(3)

    // An http:// issuer: http_proxy (lower case only) carries discovery and the token request alike.
    const op = await provider()
    const discovered = await run(
      ['client-credentials', '--issuer', op.issuer, '--client-id', op.confidentialClient.clientId],
      {
        env: {
          TOKEN_CLIENT_SECRET: op.confidentialClient.clientSecret,
          HTTP_PROXY: 'http://127.0.0.1:9',
          http_proxy: fromEnvironment.url,
        },
      },
    )
    expect(discovered.stderr).toBe('')
    expect(discovered.code).toBe(0)
    const forwarded = fromEnvironment.carried().slice(1)
    expect(forwarded.map(({ target }) => target)).toEqual([
      ...forwarded.slice(0, -1).map(() => expect.stringMatching(`^${op.issuer}/\\.well-known/`)),
      op.tokenEndpoint,
    ])
    expect(forwarded.every(({ kind }) => kind === 'request')).toBe(true)

    // A proxy variable that is no proxy URL is a configuration error naming where it came from.
    const bad = await run([...args, '--cacert', ca.caPath], {
      env: { ...env, HTTPS_PROXY: 'socks5://127.0.0.1:9' },
    })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('(from HTTPS_PROXY, http_proxy or ALL_PROXY)')
  })

  test('device: URL and code on stderr (no QR, plain lines off a terminal), the token on stdout', async () => {
    const op = await provider({ deviceInterval: 1 })
    const startedAt = Date.now()
    const started = start([
      'device',
      '--issuer',
      op.issuer,
      '--client-id',
      op.deviceClient.clientId,
      '--scope',
      'openid offline_access',
      '--scope',
      'api:read',
      '--json',
    ])
    const [, userCode] = await started.waitFor('stderr', /enter the code:\s+(\S+)\n/)
    await started.waitFor('stderr', /Waiting for approval \(the code expires in 10:00\)\.\.\.\n/)
    await op.approve(userCode ?? '')
    const approvedAt = Date.now()
    const result = await started.exited
    expect(result.code).toBe(0)
    expect(result.stderr).toContain(`${op.issuer}/device\n`)
    expect(result.stderr).toContain(`Or open ${op.issuer}/device?user_code=`)
    expect(result.stderr).toContain('Signed in.')
    expect(result.stderr).not.toMatch(/[▀▄█]/)
    expect(result.stderr).not.toContain('\r')
    const body = JSON.parse(result.stdout) as Record<string, string>
    expect(body.refresh_token).toBeTruthy()
    expect(body.scope?.split(' ').sort()).toEqual(['api:read', 'offline_access', 'openid'])
    expect((await op.provider.AccessToken.find(body.access_token ?? ''))?.accountId).toBe('user-1')
    // RFC 6749 §5.1: the lifetime counts from issuance. The successful poll follows the approval, so the clock
    // starts no later than the approval (at the answer of the poll before it), never when the token arrived.
    const issuedAt = Date.parse(body.expires_at ?? '') - Number(body.expires_in) * 1000
    expect(issuedAt).toBeGreaterThanOrEqual(startedAt)
    expect(issuedAt).toBeLessThanOrEqual(approvedAt)
  })

  test('device on a terminal: a QR code of verification_uri_complete and a live countdown', async () => {
    const op = await provider({ deviceInterval: 1 })
    // util-linux `script` runs the CLI on a pseudo-terminal (stdout and stderr both a TTY, merged).
    const command = [process.execPath, cli, ...deviceArgs(op, '--scope', 'openid')].join(' ')
    const terminal = closedAfterTest(startProcess('script', ['-qfec', command, '/dev/null']))
    const [, userCode] = await terminal.waitFor('stdout', /enter the code:\s+(\S+)\s/)
    // The person approves once the countdown runs.
    await terminal.waitFor('stdout', /\d:\d\d left/)
    await op.approve(userCode ?? '')
    const { code, stdout } = await terminal.exited
    expect(code).toBe(0)
    const output = stdout.replace(/\r\n/g, '\n')
    const complete = /Or open (\S+) \(the code is filled in\), or scan:/.exec(output)?.[1] ?? ''
    expect(complete).toMatch(new RegExp(`^${op.issuer}/device\\?user_code=`))
    expect(output).toContain(renderUnicodeCompact(complete, { ecc: 'L', border: 2 }))
    expect(output).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for approval\.\.\. (9:5\d|10:00) left/)
    expect(output).toContain('Signed in.')
    const token = output.trim().split(/\s+/).pop() ?? ''
    expect(await op.provider.AccessToken.find(token)).toBeTruthy()
  })

  test('Ctrl-C while polling exits 130 at once', async () => {
    const op = await provider({ deviceInterval: 1 })
    const started = start(deviceArgs(op, '--scope', 'openid'))
    await started.waitFor('stderr', /Waiting for approval/)
    const sentAt = performance.now()
    started.child.kill('SIGINT')
    const result = await started.exited
    expect(result.code).toBe(130)
    expect(performance.now() - sentAt).toBeLessThan(5_000)
    expect(result.stderr).toContain('Interrupted.')
    expect(result.stdout).toBe('')
  })

  test('refresh: the refresh token from the environment or stdin, the rotated one in --json', async () => {
    const op = await provider({ deviceInterval: 1 })
    const clientId = op.deviceClient.clientId
    const code = await getDeviceCode(op.deviceAuthorizationEndpoint, clientId, {
      scope: ['openid', 'offline_access'],
    })
    await op.approve(code.userCode)
    const { refreshToken } = await pollTokenEndpoint(code, op.tokenEndpoint, clientId)
    if (refreshToken === undefined) throw new Error('no refresh token')

    const args = ['refresh', '--issuer', op.issuer, '--client-id', clientId, '--json']
    const fromEnv = await run(args, { env: { TOKEN_CLIENT_REFRESH_TOKEN: refreshToken } })
    expect(fromEnv.code).toBe(0)
    expect(fromEnv.stderr).toBe('')
    const first = JSON.parse(fromEnv.stdout) as Record<string, string>
    expect(first.refresh_token).toBeTruthy()
    expect(first.refresh_token).not.toBe(refreshToken)
    expect(await op.provider.AccessToken.find(first.access_token ?? '')).toBeTruthy()

    const fromStdin = await run(
      ['refresh', '--token-endpoint', op.tokenEndpoint, '--client-id', clientId, '--refresh-token-stdin'],
      {
        stdin: `${first.refresh_token}\n`,
      },
    )
    expect(fromStdin.code).toBe(0)
    expect(fromStdin.stdout).toMatch(/^[\w-]+\n$/)
    expectNoSecret(fromStdin, first.refresh_token ?? '')
    expect(await op.provider.AccessToken.find(fromStdin.stdout.trim())).toBeTruthy()

    // The first refresh token was rotated away: refusing it is an authentication failure.
    const stale = await run(args, { env: { TOKEN_CLIENT_REFRESH_TOKEN: refreshToken } })
    expect(stale.code).toBe(1)
    expect(stale.stderr).toContain('invalid_grant')
    expectNoSecret(stale, refreshToken)
  })

  test('client-credentials under Deno: deno run of the same dist/cli.js', async () => {
    const op = await provider()
    const denoRun = [deno, 'run', '--allow-net', '--allow-env', '--allow-read']
    const result = await run(
      [
        'client-credentials',
        '--issuer',
        op.issuer,
        '--client-id',
        op.confidentialClient.clientId,
        '--scope',
        'api:read',
      ],
      {
        env: { TOKEN_CLIENT_SECRET: op.confidentialClient.clientSecret, NO_COLOR: '1' },
        command: denoRun,
      },
    )
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(await op.provider.ClientCredentials.find(result.stdout.trim())).toBeTruthy()
    expectNoSecret(result, op.confidentialClient.clientSecret)

    // Under Deno the transport flags load denoAdapter, which cannot turn certificate checks off per client.
    const insecure = await run(
      ['client-credentials', '--token-endpoint', op.tokenEndpoint, '--client-id', 'c', '--insecure'],
      {
        env: { TOKEN_CLIENT_SECRET: 'x', NO_COLOR: '1' },
        command: denoRun,
      },
    )
    expect(insecure.code).toBe(2)
    expect(insecure.stderr).toContain('--unsafely-ignore-certificate-errors')
  })

  test('without undici installed, --proxy/--cacert/--insecure exit 2 saying npm install undici', async () => {
    const pkg = closedAfterTest(await packageWithoutUndici())
    const base = ['client-credentials', '--token-endpoint', 'http://127.0.0.1:9/token', '--client-id', 'c']
    const results = await Promise.all(
      [['--proxy', 'http://127.0.0.1:9'], ['--cacert', '/nonexistent/ca.pem'], ['--insecure']].map(
        (flags) =>
          closedAfterTest(
            startProcess(process.execPath, ['dist/cli.js', ...base, ...flags], {
              cwd: pkg.dir,
              env: { ...process.env, TOKEN_CLIENT_SECRET: 'x' },
            }),
          ).exited,
      ),
    )
    for (const result of results) {
      expect(result.stdout).toBe('')
      expect(result.stderr).toBe(
        'token-client: --proxy/--cacert/--insecure/--client-cert need the undici package: npm install undici\n',
      )
      expect(result.code).toBe(2)
    }
  })

  test('control characters in what the server sends never reach the terminal (RFC 8628 §5.4)', async () => {
    const server = closedAfterTest(
      await startScriptedServer({
        '/device': (_req, res) =>
          json(res, 200, {
            device_code: 'device-code-1',
            user_code: 'WDJB\u001b[2J-MJHT',
            verification_uri: 'https://idp.example/device\u001b]8;;https://evil.example\u0007',
            verification_uri_complete: 'https://idp.example/device?c=\u009b2JWDJB',
            expires_in: 60,
            interval: 1,
          }),
        '/token': (_req, res) =>
          json(res, 400, {
            error: 'access_denied',
            error_description: 'denied \u001b[31mred\u001b[0m\u009b2J\u0007',
          }),
      }),
    )
    const result = await run([
      'device',
      '--token-endpoint',
      `${server.url}/token`,
      '--device-endpoint',
      `${server.url}/device`,
      '--client-id',
      'c',
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('WDJB[2J-MJHT')
    expect(result.stderr).toContain('https://idp.example/device]8;;https://evil.example')
    expect(result.stderr).toContain('access_denied: denied [31mred[0m2J')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may come through.
    expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
    expect(server.requests('/token')).toHaveLength(1)
  })

  test("a plain-http token endpoint in the server's metadata is the server's fault: exit 1, not 2", async () => {
    const server = closedAfterTest(await startScriptedServer())
    server.route('/.well-known/oauth-authorization-server', (_req, res) =>
      json(res, 200, { issuer: server.url, token_endpoint: 'http://idp.example/token' }),
    )
    const result = await run(['client-credentials', '--issuer', server.url, '--client-id', 'c'], {
      env: { TOKEN_CLIENT_SECRET: 'x' },
    })
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('http://idp.example')
    expect(result.code).toBe(1)
  })
})
