/**
 * Cold start: whole-process wall time of `node -e <code>` for an empty script, `import('token-client')`,
 * and `import('ky')` + `import('valibot')` (the floor our dependencies set), interleaved, medians.
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

function time(code: string): number {
  const start = performance.now()
  const result = spawnSync(process.execPath, ['-e', code], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
  const ms = performance.now() - start
  if (result.status !== 0) throw new Error(`node -e "${code}" failed: ${result.stderr.toString()}`)
  return ms
}

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
