/**
 * Sessions shared by processes: one fileStore, real child processes (Node and Deno), the real oidc-provider
 * rotating the refresh tokens of its public client (a reused refresh token is refused and, in oidc-provider,
 * revokes the grant). Renewal happens under the store's lock: one request however many processes ask.
 */
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import { DeviceCodeAuthenticator } from 'token-client'
import { fileStore } from 'token-client/node'
import { type StartedProcess, startProcess } from '../fixtures/child-process.ts'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { denoBinary, denoEnv, denoOfflineFlags } from '../fixtures/deno.ts'
import { type OidcFixture, startOidcProvider } from '../fixtures/oidc.ts'

const closedAfterTest = closeAfterEach(test)
const root = new URL('../..', import.meta.url).pathname
const childScript = 'tests/fixtures/shared-session-child.ts'
const scopes = ['openid', 'offline_access', 'api:read']

interface ChildEvent {
  event: string
  tokens?: string[]
  deviceFlows?: number
  userCode?: string
  error?: string
  message?: string
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'token-client-shared-'))
  closedAfterTest({ close: () => rm(dir, { recursive: true, force: true }) })
  return dir
}

function childConfig(op: OidcFixture, storePath: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    mode: 'token',
    tokenEndpoint: op.tokenEndpoint,
    deviceAuthorizationEndpoint: op.deviceAuthorizationEndpoint,
    clientId: op.deviceClient.clientId,
    scopes,
    storePath,
    ...extra,
  })
}

async function denoEnvironment(): Promise<NodeJS.ProcessEnv> {
  return denoEnv(await tempDir())
}

const denoArgs = [
  'run',
  ...denoOfflineFlags,
  '--allow-net=127.0.0.1',
  '--allow-read',
  '--allow-write',
  '--allow-env',
  '--allow-sys=hostname',
  '--allow-run',
]

function spawnChild(config: string, runtime: 'node' | 'deno', env?: NodeJS.ProcessEnv): StartedProcess {
  const [command, args] =
    runtime === 'node'
      ? [process.execPath, [childScript, config]]
      : [denoBinary, [...denoArgs, childScript, config]]
  return closedAfterTest(startProcess(command, args, { cwd: root, stdin: 'open', ...(env ? { env } : {}) }))
}

async function finalEvent(child: StartedProcess): Promise<ChildEvent> {
  const [line] = await child.waitFor('stdout', /^\{"event":"(done|error)".*$/m)
  return JSON.parse(line) as ChildEvent
}

/** Signs in once in this process (device flow approved programmatically) and stores the token set. */
async function signIn(op: OidcFixture, storePath: string): Promise<DeviceCodeAuthenticator> {
  const auth = new DeviceCodeAuthenticator({
    tokenEndpoint: op.tokenEndpoint,
    deviceAuthorizationEndpoint: op.deviceAuthorizationEndpoint,
    clientId: op.deviceClient.clientId,
    scopes,
    store: fileStore(storePath),
    onDeviceCode: (code) => op.approve(code.userCode),
  })
  await auth.getAccessToken()
  return auth
}

/** Makes the stored access token expired (as if its lifetime had passed), keeping its refresh token. */
async function expireStored(storePath: string): Promise<string> {
  const stored = JSON.parse(await readFile(storePath, 'utf8')) as Record<string, unknown>
  stored.expiresAt = stored.obtainedAt
  await writeFile(storePath, JSON.stringify(stored))
  return String(stored.refreshToken)
}

async function accepted(op: OidcFixture, token: string): Promise<boolean> {
  const found = await op.provider.AccessToken.find(token)
  return found !== undefined && !found.isExpired
}

/** Starts `count` children, waits until all are ready, then tells them all to go at the same instant. */
async function race(count: number, start: () => StartedProcess): Promise<ChildEvent[]> {
  const children = Array.from({ length: count }, start)
  await Promise.all(children.map((child) => child.waitFor('stdout', /"event":"ready"/)))
  for (const child of children) child.child.stdin.write('go\n')
  return Promise.all(children.map(finalEvent))
}

for (const [runtime, count, rounds] of [
  ['node', 8, 5],
  ['deno', 4, 3],
] as const) {
  test(`${count} ${runtime === 'node' ? 'Node' : 'Deno'} processes renew an expired token at the same instant: one token request a round, no invalid_grant, no new sign-in (${rounds} rounds)`, async () => {
    test.setTimeout(120_000)
    const op = closedAfterTest(await startOidcProvider({ deviceInterval: 1 }))
    const storePath = join(await tempDir(), 'token.json')
    await signIn(op, storePath)
    const env = runtime === 'deno' ? await denoEnvironment() : undefined
    for (let round = 1; round <= rounds; round++) {
      const oldRefreshToken = await expireStored(storePath)
      const before = op.tokenRequests()
      const results = await race(count, () => spawnChild(childConfig(op, storePath), runtime, env))
      expect(
        results.map((r) => r.event),
        JSON.stringify(results),
      ).toEqual(Array(count).fill('done'))
      expect(op.tokenRequests() - before, `round ${round}: token requests`).toBe(1)
      expect(results.reduce((n, r) => n + (r.deviceFlows ?? 0), 0)).toBe(0)
      const tokens = new Set(results.flatMap((r) => r.tokens ?? []))
      expect(tokens.size, 'every process holds the same, new token').toBe(1)
      expect(await accepted(op, [...tokens][0] ?? '')).toBe(true)
      const stored = JSON.parse(await readFile(storePath, 'utf8')) as { refreshToken: string }
      expect(stored.refreshToken, 'the refresh token rotated').not.toBe(oldRefreshToken)
    }
  })
}

test('two authenticators on one path in one process: one refresh, the same token', async () => {
  const op = closedAfterTest(await startOidcProvider({ deviceInterval: 1 }))
  const storePath = join(await tempDir(), 'token.json')
  await signIn(op, storePath)
  await expireStored(storePath)
  const make = (): DeviceCodeAuthenticator =>
    new DeviceCodeAuthenticator({
      tokenEndpoint: op.tokenEndpoint,
      deviceAuthorizationEndpoint: op.deviceAuthorizationEndpoint,
      clientId: op.deviceClient.clientId,
      scopes,
      store: fileStore(storePath),
      onDeviceCode: () => {
        throw new Error('no device flow expected')
      },
    })
  const before = op.tokenRequests()
  const [a, b] = await Promise.all([make().getAccessToken(), make().getAccessToken()])
  expect(a).toBe(b)
  expect(op.tokenRequests() - before).toBe(1)
  expect(await accepted(op, a)).toBe(true)
})

test('a holder SIGKILLed while it holds the lock: the others finish within the stale limit + 2 s, one renewal in all; a live holder is never taken over', async () => {
  test.setTimeout(60_000)
  const staleAfter = 1500
  const op = closedAfterTest(await startOidcProvider({ deviceInterval: 1 }))
  const storePath = join(await tempDir(), 'token.json')
  await signIn(op, storePath)
  await expireStored(storePath)

  const holder = spawnChild(childConfig(op, storePath, { mode: 'hold', staleAfter }), 'node')
  await holder.waitFor('stdout', /"event":"ready"/)
  holder.child.stdin.write('go\n')
  await holder.waitFor('stdout', /"event":"locked"/)

  const before = op.tokenRequests()
  const waiters = Array.from({ length: 3 }, () =>
    spawnChild(childConfig(op, storePath, { staleAfter }), 'node'),
  )
  await Promise.all(waiters.map((w) => w.waitFor('stdout', /"event":"ready"/)))
  for (const w of waiters) w.child.stdin.write('go\n')
  const finished = Promise.all(waiters.map(finalEvent))
  // Longer than the stale limit: the holder's heartbeat keeps its lock.
  const early = await Promise.race([
    finished.then(() => 'finished'),
    new Promise((resolve) => setTimeout(() => resolve('waiting'), staleAfter * 2)),
  ])
  expect(early, 'nobody takes over a live holder').toBe('waiting')
  expect(op.tokenRequests()).toBe(before)

  const killedAt = performance.now()
  holder.child.kill('SIGKILL')
  const results = await finished
  const elapsed = performance.now() - killedAt
  expect(results.map((r) => r.event)).toEqual(['done', 'done', 'done'])
  expect(elapsed).toBeLessThan(staleAfter + 2000)
  expect(op.tokenRequests() - before).toBe(1)
  expect(new Set(results.flatMap((r) => r.tokens ?? [])).size).toBe(1)
})

test('a lock left by a holder on another host is taken over once its heartbeat is older than staleAfter, not before', async () => {
  const staleAfter = 1000
  const op = closedAfterTest(await startOidcProvider({ deviceInterval: 1 }))
  const storePath = join(await tempDir(), 'token.json')
  await signIn(op, storePath)
  await expireStored(storePath)
  // A holder we cannot ask about (another host): only its heartbeat tells.
  await writeFile(`${storePath}.lock`, JSON.stringify({ pid: 1, host: `not-${hostname()}`, nonce: 'x' }))
  const started = performance.now()
  const auth = new DeviceCodeAuthenticator({
    tokenEndpoint: op.tokenEndpoint,
    deviceAuthorizationEndpoint: op.deviceAuthorizationEndpoint,
    clientId: op.deviceClient.clientId,
    scopes,
    store: fileStore(storePath, { staleAfter }),
    onDeviceCode: () => {
      throw new Error('no device flow expected')
    },
  })
  const token = await auth.getAccessToken()
  const elapsed = performance.now() - started
  expect(elapsed).toBeGreaterThanOrEqual(staleAfter - 50)
  expect(elapsed).toBeLessThan(staleAfter + 2000)
  expect(await accepted(op, token)).toBe(true)
})

test('waiting for the lock honours the signal, and a stale-looking but heartbeating lock is left alone', async () => {
  const storePath = join(await tempDir(), 'token.json')
  const store = fileStore(storePath, { staleAfter: 300 })
  const other = fileStore(storePath, { staleAfter: 300 })
  let release: () => void = () => {}
  const held = store.lock?.(
    () =>
      new Promise<void>((resolve) => {
        release = resolve
      }),
  )
  // Wait until the lock file exists.
  await expect.poll(() => readFile(`${storePath}.lock`, 'utf8').then(Boolean, () => false)).toBe(true)
  const t0 = performance.now()
  const waited = other.lock?.(async () => 'got it', { signal: AbortSignal.timeout(1000) })
  await expect(waited).rejects.toMatchObject({ name: 'TimeoutError' })
  const elapsed = performance.now() - t0
  expect(elapsed).toBeGreaterThanOrEqual(950)
  expect(elapsed).toBeLessThan(1600)
  release()
  await held
  // Released: the lock file is gone and the next one gets it at once.
  await expect(readFile(`${storePath}.lock`, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
  expect(await other.lock?.(async () => 'got it')).toBe('got it')
  // A lock file whose time is touched keeps its holder even when it looks old at first.
  await writeFile(`${storePath}.lock`, JSON.stringify({ pid: 1, host: 'elsewhere' }))
  const beat = setInterval(() => {
    const now = new Date()
    void utimes(`${storePath}.lock`, now, now)
  }, 50)
  try {
    await expect(
      other.lock?.(async () => 'taken', { signal: AbortSignal.timeout(900) }),
    ).rejects.toMatchObject({
      name: 'TimeoutError',
    })
  } finally {
    clearInterval(beat)
  }
})

test('a device flow in progress in one process and a second process started meanwhile: one device flow, the same token', async () => {
  test.setTimeout(60_000)
  const op = closedAfterTest(await startOidcProvider({ deviceInterval: 1 }))
  const storePath = join(await tempDir(), 'token.json')
  const first = spawnChild(childConfig(op, storePath), 'node')
  await first.waitFor('stdout', /"event":"ready"/)
  first.child.stdin.write('go\n')
  const [, userCode] = await first.waitFor('stdout', /"event":"device","userCode":"([^"]+)"/)

  const second = spawnChild(childConfig(op, storePath), 'node')
  await second.waitFor('stdout', /"event":"ready"/)
  second.child.stdin.write('go\n')
  // The second one waits on the lock while the person has not approved yet.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await op.approve(userCode ?? '')

  const [a, b] = await Promise.all([finalEvent(first), finalEvent(second)])
  expect(a.event).toBe('done')
  expect(b.event).toBe('done')
  expect((a.deviceFlows ?? 0) + (b.deviceFlows ?? 0), 'onDeviceCode called once across both').toBe(1)
  expect(a.tokens).toEqual(b.tokens)
  expect(await accepted(op, a.tokens?.[0] ?? '')).toBe(true)
})
