/**
 * The CLI's fast path (help, usage errors, and `token` with a valid cached session) loads nothing heavy: no ky, valibot, undici or uqr, none of the
 * command chunks, no built-in imported as an ES module. A module-recording preload (tests/fixtures/record-modules.ts)
 * lists every module the process loaded. A command that sends a request is the control: there ky and valibot
 * are loaded (so the recording sees them when they are there).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import { startProcess } from '../fixtures/child-process.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { startOidcProvider } from '../fixtures/oidc.ts'

const closedAfterTest = closeAfterEach(test)

/** This environment without TOKEN_CLIENT_* and proxy variables. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(TOKEN_CLIENT_|(https?|all|no)_proxy$)/i.test(key)),
)

/** Runs `node dist/cli.js ...args` and returns its exit code and the URLs of every module it loaded. */
async function modulesLoadedBy(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; loaded: string[]; stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-modules-'))
  closedAfterTest({ close: () => rm(dir, { recursive: true, force: true }) })
  const out = join(dir, 'loaded.json')
  const cli = closedAfterTest(
    startProcess(
      process.execPath,
      ['--import', './tests/fixtures/record-modules.ts', 'dist/cli.js', ...args],
      {
        env: { ...env, ...extraEnv, RECORD_MODULES_TO: out },
      },
    ),
  )
  const { code, stdout } = await cli.exited
  const loaded = (JSON.parse(await readFile(out, 'utf8')) as string[]).filter(
    (url) => !url.endsWith('/tests/fixtures/record-modules.ts'),
  )
  return { code, loaded, stdout }
}

const heavy =
  /\/node_modules\/(ky|valibot|undici|uqr)\/|\/dist\/cli\/(commands|qr)-|\/dist\/(index|node|deno)\.js/

test('--help, per-command help and usage errors load no dependency and no command chunk', async () => {
  const runs = await Promise.all([
    modulesLoadedBy(['--help']),
    modulesLoadedBy(['device', '--help']),
    modulesLoadedBy(['client-credentials', '--token-endpoint', 'https://idp.example/token']),
    modulesLoadedBy(['frobnicate']),
  ])
  expect(runs.map((run) => run.code)).toEqual([0, 0, 2, 2])
  for (const { loaded } of runs) {
    expect(loaded.filter((url) => heavy.test(url))).toEqual([])
    expect(loaded.filter((url) => url.includes('/node_modules/'))).toEqual([])
    // dist/cli.js and shared chunks, no command chunk.
    const files = loaded.filter((url) => url.startsWith('file:')).map((url) => url.replace(/^.*\/dist\//, ''))
    expect(files[0]).toBe('cli.js')
    expect(files.slice(1).filter((file) => !/^cli\/chunk-\w+\.js$/.test(file))).toEqual([])
    // Built-ins come through process.getBuiltinModule (src/cli/builtins.ts): no ESM import of any.
    expect(loaded.filter((url) => url.startsWith('node:'))).toEqual([])
  }
})

test('a command that sends a request loads ky, valibot and its chunk, but not the QR code or undici', async () => {
  const op = closedAfterTest(await startOidcProvider())
  const { code, loaded } = await modulesLoadedBy(['discover', '--issuer', op.issuer])
  expect(code).toBe(0)
  expect(loaded).toContainEqual(expect.stringMatching(/\/node_modules\/ky\//))
  expect(loaded).toContainEqual(expect.stringMatching(/\/node_modules\/valibot\//))
  expect(loaded).toContainEqual(expect.stringMatching(/\/dist\/cli\/commands-\w+\.js$/))
  expect(loaded.filter((url) => /\/node_modules\/(undici|uqr)\/|\/dist\/cli\/qr-/.test(url))).toEqual([])
})

for (const dpop of [false, true]) {
  test(`token with a valid cached ${dpop ? 'DPoP-bound ' : ''}session loads nothing from node_modules and no command chunk`, async () => {
    const op = closedAfterTest(await startOidcProvider({ deviceInterval: 1 }))
    const home = await mkdtemp(join(tmpdir(), 'cli-home-'))
    closedAfterTest({ close: () => rm(home, { recursive: true, force: true }) })
    const settings = [
      '--issuer',
      op.issuer,
      '--client-id',
      op.deviceClient.clientId,
      '--scope',
      'openid offline_access',
    ]
    const login = closedAfterTest(
      startProcess(process.execPath, ['dist/cli.js', 'login', ...settings, ...(dpop ? ['--dpop'] : [])], {
        env: { ...env, TOKEN_CLIENT_HOME: home },
      }),
    )
    const [, userCode] = await login.waitFor('stderr', /enter the code:\s+(\S+)\n/)
    await op.approve(userCode ?? '')
    expect((await login.exited).code).toBe(0)
    const requests = op.tokenRequests()

    const { code, loaded, stdout } = await modulesLoadedBy(
      ['token', ...settings, '--output', 'exec-credential'],
      {
        TOKEN_CLIENT_HOME: home,
      },
    )
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({
      kind: 'ExecCredential',
      status: { token: expect.any(String) },
    })
    expect(op.tokenRequests()).toBe(requests)
    expect(loaded.filter((url) => url.includes('/node_modules/'))).toEqual([])
    expect(loaded.filter((url) => heavy.test(url))).toEqual([])
    const files = loaded.filter((url) => url.startsWith('file:')).map((url) => url.replace(/^.*\/dist\//, ''))
    expect(files.filter((file) => !/^cli(\.js|\/(chunk|session)-\w+\.js)$/.test(file))).toEqual([])
    expect(files).toContainEqual(expect.stringMatching(/^cli\/session-\w+\.js$/))
    expect(loaded.filter((url) => url.startsWith('node:'))).toEqual([])
    if (dpop) {
      // The scheme from the session file alone: no key, no crypto loaded.
      const header = await modulesLoadedBy(['token', ...settings, '--output', 'header'], {
        TOKEN_CLIENT_HOME: home,
      })
      expect(header.stdout).toMatch(/^Authorization: DPoP [\w-]+\n$/)
      expect(header.loaded.filter((url) => url.includes('/node_modules/') || heavy.test(url))).toEqual([])
      expect(op.tokenRequests()).toBe(requests)
    }
  })
}
