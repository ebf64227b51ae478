/**
 * Cold start: whole-process wall time of `node -e <code>` for an empty script, `import('token-client')`,
 * and `import('ky')` + `import('valibot')` (the floor our dependencies set), interleaved, medians. And the CLI's
 * no-request paths (`node dist/cli.js --help`, ...) against a bare `node -e 0`, paired, as ratios.
 *
 * Two ratios: the import cost ratio (t_tc − t_empty) / (t_floor − t_empty), which is what the target
 * "cold import ≤ 1.15× the ky + valibot floor" is measured with, and the whole-process ratio t_tc / t_floor.
 */
import { spawnSync } from 'node:child_process'
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
function timeNode(args: readonly string[], status = 0): number {
  const start = performance.now()
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
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

/**
 * The CLI's paths that send no request (`token-client token` will be one: a cached token from a file), each
 * with the exit status it must end with. They must not pay for ky, valibot, the QR code or the adapters.
 */
export const cliColdStartCommands = {
  'token-client --help': { args: ['dist/cli.js', '--help'], status: 0 },
  'token-client device --help': { args: ['dist/cli.js', 'device', '--help'], status: 0 },
  'token-client client-credentials (usage error)': {
    args: ['dist/cli.js', 'client-credentials', '--token-endpoint', 'https://idp.example/token'],
    status: 2,
  },
} as const

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
  // Warm the file system cache.
  timeNode(['-e', '0'])
  for (const name of names) timeNode(cliColdStartCommands[name].args, cliColdStartCommands[name].status)
  for (let run = 0; run < runs; run++) {
    for (const name of names) {
      const base = timeNode(['-e', '0'])
      const { args, status } = cliColdStartCommands[name]
      const ms = timeNode(args, status)
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
  return { runs, medianMs, ratio }
}
