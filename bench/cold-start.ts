/**
 * Cold start: whole-process wall time of `node -e <code>` for an empty script, `import('token-client')`,
 * and `import('ky')` + `import('valibot')` (the floor our dependencies set), interleaved, medians. And the CLI's
 * no-request paths (`node dist/cli.js --help`, ...) against a bare `node -e 0`, paired, as ratios.
 *
 * Two ratios: the import cost ratio (t_tc − t_empty) / (t_floor − t_empty), which is what the target
 * "cold import ≤ 1.15× the ky + valibot floor" is measured with, and the whole-process ratio t_tc / t_floor.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median } from './loop.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

export const coldStartScripts = {
  empty: '',
  'token-client': "await import('token-client')",
  'ky + valibot': "await Promise.all([import('ky'), import('valibot')])",
} as const

export interface ColdStart {
  runs: number
  /** Median milliseconds per script. */
  medianMs: Record<keyof typeof coldStartScripts, number>
  minMs: Record<keyof typeof coldStartScripts, number>
  /** (t_tc − t_empty) / (t_floor − t_empty): the target's measure. */
  importRatio: number
  /** t_tc / t_floor. */
  processRatio: number
}

/** Wall time of `node ...args` (the whole process), which must exit with `status`. */
function timeNode(args: readonly string[], status = 0, env?: NodeJS.ProcessEnv): number {
  const start = performance.now()
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(env === undefined ? {} : { env: { ...process.env, ...env } }),
  })
  const ms = performance.now() - start
  if (result.status !== status) {
    throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr.toString()}`)
  }
  return ms
}

const time = (code: string): number => timeNode(['-e', code])

export function coldStart(runs: number): ColdStart {
  const names = Object.keys(coldStartScripts) as (keyof typeof coldStartScripts)[]
  const samples = { empty: [] as number[], 'token-client': [] as number[], 'ky + valibot': [] as number[] }
  for (const name of names) time(coldStartScripts[name]) // warm the file system cache
  for (let run = 0; run < runs; run++) {
    for (const name of names) samples[name].push(time(coldStartScripts[name]))
  }
  const medianMs = {
    empty: median(samples.empty),
    'token-client': median(samples['token-client']),
    'ky + valibot': median(samples['ky + valibot']),
  }
  return {
    runs,
    medianMs,
    minMs: {
      empty: Math.min(...samples.empty),
      'token-client': Math.min(...samples['token-client']),
      'ky + valibot': Math.min(...samples['ky + valibot']),
    },
    importRatio: (medianMs['token-client'] - medianMs.empty) / (medianMs['ky + valibot'] - medianMs.empty),
    processRatio: medianMs['token-client'] / medianMs['ky + valibot'],
  }
}

/** The session of the `token` run: a valid token for https://idp.example, client bench, scope openid. */
const warmSession = { issuer: 'https://idp.example', clientId: 'bench', scopes: ['openid'] }

/**
 * A TOKEN_CLIENT_HOME holding a valid session for {@link warmSession}, written the way `token-client login`
 * keeps it (src/cli/session.ts: sessions/<sha256 of kind and binding, 32 hex digits>.json). If that layout
 * changes, `token` finds no session, exits 1, and the bench fails loudly.
 */
function warmHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'bench-cli-home-'))
  const binding = JSON.stringify([warmSession.issuer, warmSession.clientId, warmSession.scopes, null])
  const name = createHash('sha256')
    .update(JSON.stringify(['user', binding]))
    .digest('hex')
    .slice(0, 32)
  mkdirSync(join(home, 'sessions'), { recursive: true, mode: 0o700 })
  const obtainedAt = Date.now()
  const session = { kind: 'user', ...warmSession, flow: 'device' }
  const token = {
    accessToken: 'bench-access-token',
    tokenType: 'Bearer',
    refreshToken: 'bench-refresh-token',
  }
  writeFileSync(
    join(home, 'sessions', `${name}.json`),
    JSON.stringify({ ...token, obtainedAt, expiresAt: obtainedAt + 86_400_000, binding, session }),
    { mode: 0o600 },
  )
  return home
}

/**
 * The CLI's paths that send no request, each with the exit status it must end with: help, a usage error, and
 * `token` with a valid cached session (read the file, print). They must not pay for ky, valibot, the QR code or
 * the adapters.
 */
export const cliColdStartCommands = {
  'token-client --help': { args: ['dist/cli.js', '--help'], status: 0 },
  'token-client device --help': { args: ['dist/cli.js', 'device', '--help'], status: 0 },
  'token-client client-credentials (usage error)': {
    args: ['dist/cli.js', 'client-credentials', '--token-endpoint', 'https://idp.example/token'],
    status: 2,
  },
  'token-client token (valid cached session)': {
    args: [
      'dist/cli.js',
      'token',
      '--issuer',
      warmSession.issuer,
      '--client-id',
      warmSession.clientId,
      '--scope',
      'openid',
    ],
    status: 0,
    env: () => ({ TOKEN_CLIENT_HOME: warmHome() }),
  },
} satisfies Record<string, { args: readonly string[]; status: number; env?: () => NodeJS.ProcessEnv }>

type CliCommand = keyof typeof cliColdStartCommands

/** The command's environment, when it needs one (a fresh warm session home). */
function envOf(name: CliCommand): NodeJS.ProcessEnv | undefined {
  const spec = cliColdStartCommands[name]
  return 'env' in spec ? spec.env() : undefined
}

export interface CliColdStart {
  runs: number
  /** Median wall milliseconds of `node -e 0` (the floor) and of each CLI command. */
  medianMs: Record<'node -e 0' | keyof typeof cliColdStartCommands, number>
  /**
   * Median over runs of (command / `node -e 0` timed just before it): paired, so that the machine's drift
   * between runs cancels out. The target is ≤ 1.5×.
   */
  ratio: Record<keyof typeof cliColdStartCommands, number>
}

/** `node dist/cli.js` on its no-request paths against a bare `node -e 0`, each CLI run paired with a floor run. */
export function cliColdStart(runs: number): CliColdStart {
  const names = Object.keys(cliColdStartCommands) as (keyof typeof cliColdStartCommands)[]
  const floor: number[] = []
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
    keyof typeof cliColdStartCommands,
    number[]
  >
  const ratios = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
    keyof typeof cliColdStartCommands,
    number[]
  >
  // Each command's environment once (the warm session's home), then warm the file system cache.
  const envs = Object.fromEntries(names.map((name) => [name, envOf(name)]))
  timeNode(['-e', '0'])
  for (const name of names) {
    const { args, status } = cliColdStartCommands[name]
    timeNode(args, status, envs[name])
  }
  for (let run = 0; run < runs; run++) {
    for (const name of names) {
      const base = timeNode(['-e', '0'])
      const { args, status } = cliColdStartCommands[name]
      const ms = timeNode(args, status, envs[name])
      floor.push(base)
      samples[name].push(ms)
      ratios[name].push(ms / base)
    }
  }
  const medianMs = { 'node -e 0': median(floor) } as CliColdStart['medianMs']
  const ratio = {} as CliColdStart['ratio']
  for (const name of names) {
    medianMs[name] = median(samples[name])
    ratio[name] = median(ratios[name])
  }
  for (const env of Object.values(envs)) {
    if (env?.TOKEN_CLIENT_HOME !== undefined) rmSync(env.TOKEN_CLIENT_HOME, { recursive: true, force: true })
  }
  return { runs, medianMs, ratio }
}
