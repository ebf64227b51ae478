/**
 * `npm run bench`: token-client against raw fetch (the floor), oauth4webapi and openid-client, in one run.
 *
 * 1. Throughput, Node: client-credentials grants against a loopback token server in its own process,
 *    sequential (N in a row) and concurrent (64 in flight), rows interleaved (A B C D E F, A B C D E F, …)
 *    after a warm-up. Ratio = row time / raw-fetch time in the same round; the table shows medians over rounds.
 *    Rows: raw fetch (the floor), ky alone (token-client's ky call without token-client: ky's share),
 *    token-client (global fetch), token-client + nodeAdapter (npm undici), oauth4webapi, openid-client.
 * 2. Throughput, Deno: the global-fetch rows (raw fetch, ky alone, getToken) under the `deno` npm package.
 * 3. Poll timing of a device flow (RFC 8628 §3.5 gaps, approved → token).
 * 4. Cold start of `import('token-client')` against the ky + valibot floor, and of the CLI's no-request paths
 *    (`node dist/cli.js --help`, ...) against a bare `node -e 0`, paired, as ratios.
 * 5. Browser bundle sizes (esbuild, minified; gzip -9 and brotli 11).
 * 6. Shared sessions: the warm path (cached getAccessToken, authenticator.fetch vs raw fetch), one renewal with
 *    the file lock vs without, and 8 contending processes vs one alone (bench/sessions.ts).
 * 7. Signing per request: a DPoP proof and a private_key_jwt client assertion, ES256 (bench/signing.ts).
 *
 * `--smoke` (in `npm test`): small N, one round, few cold starts; every part runs, no timing is judged; exits
 * non-zero only when something fails. Results are written to bench/results/ (git-ignored).
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { alternativeBundles, type BundleSize, kb, tokenClientBundles } from './bundle-size.ts'
import { nodeRows } from './clients.ts'
import {
  type CliColdStart,
  type ColdStart,
  cliColdStart,
  cliColdStartCommands,
  coldStart,
} from './cold-start.ts'
import { concurrent, interleaved, median, sequential, type Timings } from './loop.ts'
import { type PollTiming, pollTiming } from './poll-timing.ts'
import { startBenchServer } from './server-process.ts'
import { type SessionBench, sessionBench } from './sessions.ts'
import { type SigningRow, signingBench } from './signing.ts'

const smoke = process.argv.includes('--smoke')
const config = smoke
  ? {
      n: 50,
      total: 64,
      inFlight: 64,
      rounds: 1,
      warmup: 10,
      coldRuns: 2,
      cliRuns: 2,
      pollInterval: 0.2,
      pending: 3,
      warmCalls: 10_000,
      fetches: 20,
      renewals: 5,
      contenders: 8,
      signings: 200,
    }
  : {
      n: 3000,
      total: 3000,
      inFlight: 64,
      rounds: 7,
      warmup: 300,
      coldRuns: 15,
      cliRuns: 21,
      pollInterval: 0.2,
      pending: 10,
      warmCalls: 1_000_000,
      fetches: 1000,
      renewals: 200,
      contenders: 8,
      signings: 5000,
    }
// Development overrides: --n=1000 --rounds=3 (N and the concurrent total follow n).
for (const arg of process.argv) {
  const match = /^--(n|rounds)=(\d+)$/.exec(arg)
  if (match?.[1] === 'n') Object.assign(config, { n: Number(match[2]), total: Number(match[2]) })
  if (match?.[1] === 'rounds') config.rounds = Number(match[2])
}
const root = fileURLToPath(new URL('..', import.meta.url))
const started = performance.now()
const log = (line = ''): void => {
  process.stdout.write(`${line}\n`)
}
const progress = (what: string): void => {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${what}\n`)
}

interface RowStats {
  row: string
  medianRps: number
  minRps: number
  maxRps: number
  /** Median over rounds of (row time / raw-fetch time in the same round). */
  medianRatio: number
}

function stats(timings: Timings, requests: number): RowStats[] {
  const raw = timings['raw fetch'] as number[]
  return Object.entries(timings).map(([row, ms]) => {
    const rps = ms.map((t) => (requests * 1000) / t)
    return {
      row,
      medianRps: median(rps),
      minRps: Math.min(...rps),
      maxRps: Math.max(...rps),
      medianRatio: median(ms.map((t, round) => t / (raw[round] as number))),
    }
  })
}

/** Median over rounds of (row A's time / row B's time). */
function pairRatio(timings: Timings, a: string, b: string): number | undefined {
  const ta = timings[a]
  const tb = timings[b]
  if (ta === undefined || tb === undefined) return undefined
  return median(ta.map((t, round) => t / (tb[round] as number)))
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  return [line(header), rule, ...rows.map(line)].join('\n')
}

const rps = (n: number): string => Math.round(n).toLocaleString('en-US')

function throughputTable(title: string, rows: RowStats[]): string {
  return `${title}\n\n${table(
    ['row', 'median req/s', 'min–max req/s', 'median ratio to raw fetch'],
    rows.map((r) => [
      r.row,
      rps(r.medianRps),
      `${rps(r.minRps)}–${rps(r.maxRps)}`,
      `${r.medianRatio.toFixed(2)}×`,
    ]),
  )}`
}

// ---------------------------------------------------------------------------------------------------------

const server = await startBenchServer()
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  mode: smoke ? 'smoke' : 'full',
  config,
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    node: process.version,
    platform: process.platform,
  },
}
let failed = false

try {
  // 1. Node throughput.
  progress('node rows: setting up')
  const { rows, skipped } = await nodeRows(server.tokenEndpoint)
  const pairs = rows.map((row) => [row.name, row.grant] as const)
  progress(`node sequential: ${rows.length} rows × ${config.rounds} rounds × ${config.n}`)
  const nodeSeq = await interleaved(pairs, sequential, config.n, config.rounds, config.warmup)
  progress(
    `node concurrent: ${rows.length} rows × ${config.rounds} rounds × ${config.total} (${config.inFlight} in flight)`,
  )
  const nodeConc = await interleaved(
    pairs,
    (grant, count) => concurrent(grant, count, config.inFlight),
    config.total,
    config.rounds,
    config.warmup,
  )

  // 2. Deno throughput (global-fetch rows).
  progress('deno: sequential and concurrent')
  const denoOut = execFileSync(
    `${root}node_modules/.bin/deno`,
    [
      'run',
      '--allow-net=127.0.0.1',
      '--allow-read',
      'bench/deno-bench.ts',
      server.tokenEndpoint,
      String(config.n),
      String(config.total),
      String(config.inFlight),
      String(config.rounds),
      String(config.warmup),
    ],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NO_COLOR: '1' },
    },
  )
  const deno = JSON.parse(denoOut.trim().split('\n').at(-1) ?? '{}') as {
    runtime: string
    sequential: Timings
    concurrent: Timings
  }

  // 3. Poll timing: k pending answers at the base interval, then (separately, as it costs 5 s) one slow_down.
  progress(`poll timing: interval ${config.pollInterval} s, ${config.pending} pending, then one slow_down`)
  const pollPlain: PollTiming = await pollTiming(server, config.pollInterval, config.pending, -1)
  const pollSlow: PollTiming = await pollTiming(server, config.pollInterval, 2, 1)
  const record = await server.record()
  if (record.failures > 0) throw new Error(`the bench server answered ${record.failures} unexpected requests`)

  // 4. Cold start.
  progress(`cold start: ${config.coldRuns} runs × 3 scripts`)
  const cold: ColdStart = coldStart(config.coldRuns)
  progress(
    `CLI cold start: ${config.cliRuns} paired runs × ${Object.keys(cliColdStartCommands).length} commands`,
  )
  const cliCold: CliColdStart = cliColdStart(config.cliRuns)

  // 5. Bundle sizes.
  progress('bundle sizes')
  const bundles: BundleSize[] = [...(await tokenClientBundles()), ...(await alternativeBundles())]

  // 6. Shared sessions.
  progress(
    `sessions: warm path, renewal with and without the lock, ${config.contenders} contending processes`,
  )
  const sessions: SessionBench = await sessionBench(server, { ...config, rounds: Math.max(config.rounds, 3) })

  // 7. Signing per request.
  progress(`signing: DPoP proofs and client assertions, ${config.signings} each`)
  const signing: SigningRow[] = await signingBench(config.signings)

  // ---- report ----
  const nodeSeqStats = stats(nodeSeq, config.n)
  const nodeConcStats = stats(nodeConc, config.total)
  const denoSeqStats = stats(deno.sequential, config.n)
  const denoConcStats = stats(deno.concurrent, config.total)
  const concVsOauth4webapi = pairRatio(nodeConc, 'oauth4webapi', 'token-client')

  log(`# token-client benchmark (${smoke ? 'SMOKE: tiny N, numbers meaningless' : 'full'})`)
  log()
  log(
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${deno.runtime}; ` +
      `loopback token server in its own process; ${config.rounds} interleaved rounds after a warm-up of ${config.warmup}.`,
  )
  log()
  log(throughputTable(`## Node, sequential (${config.n} client-credentials grants per round)`, nodeSeqStats))
  log()
  log(
    throughputTable(
      `## Node, concurrent (${config.total} grants per round, ${config.inFlight} in flight)`,
      nodeConcStats,
    ),
  )
  for (const skip of skipped) log(`\n(skipped: ${skip.name}: ${skip.reason})`)
  log()
  log(throughputTable(`## ${deno.runtime}, sequential (${config.n} per round)`, denoSeqStats))
  log()
  log(
    throughputTable(
      `## ${deno.runtime}, concurrent (${config.total} per round, ${config.inFlight} in flight)`,
      denoConcStats,
    ),
  )
  log()
  const allGaps = [...pollPlain.gaps, ...pollSlow.gaps]
  const pollEarly = pollPlain.early + pollSlow.early
  const pollMean = allGaps.reduce((sum, gap) => sum + gap.deviationMs, 0) / allGaps.length
  const pollMax = Math.max(...allGaps.map((gap) => gap.deviationMs))
  const slowGap = pollSlow.gaps.at(-1)
  log(
    `## Poll timing (device flow against the bench server; interval ${config.pollInterval} s; gaps between poll ` +
      'arrivals on the server clock vs the gap RFC 8628 §3.5 requires)',
  )
  log()
  log(
    table(
      ['measure', 'value'],
      [
        [
          `run 1: ${pollPlain.pending} × authorization_pending, then the token`,
          `${pollPlain.gaps.length} gaps`,
        ],
        ['run 2: pending, slow_down (+5 s), then the token', `${pollSlow.gaps.length} gaps`],
        ['early gaps (violations), both runs', String(pollEarly)],
        ['mean deviation from the required gap, both runs', `${pollMean.toFixed(2)} ms`],
        ['max deviation from the required gap, both runs', `${pollMax.toFixed(2)} ms`],
        ['gap after slow_down (required)', `${slowGap?.gapMs.toFixed(1)} ms (${slowGap?.requiredMs} ms)`],
        ['device code → first poll (run 1)', `${pollPlain.firstPollMs.toFixed(1)} ms`],
        [
          'approved → token in hand, run 1 (interval)',
          `${pollPlain.approvedToTokenMs.toFixed(1)} ms (${pollPlain.finalIntervalMs} ms)`,
        ],
        [
          'approved → token in hand, run 2 (interval after slow_down)',
          `${pollSlow.approvedToTokenMs.toFixed(1)} ms (${pollSlow.finalIntervalMs} ms)`,
        ],
      ],
    ),
  )
  log()
  log(`## Cold start (node -e, ${cold.runs} runs each, median wall time of the whole process)`)
  log()
  log(
    table(
      ['script', 'median', 'min'],
      (Object.keys(cold.medianMs) as (keyof typeof cold.medianMs)[]).map((name) => [
        name === 'empty' ? 'node -e ""' : `import ${name}`,
        `${cold.medianMs[name].toFixed(1)} ms`,
        `${cold.minMs[name].toFixed(1)} ms`,
      ]),
    ),
  )
  log()
  log(
    `import cost ratio (t_tc − t_empty) / (t_ky+valibot − t_empty) = ${cold.importRatio.toFixed(2)}×; ` +
      `whole-process ratio t_tc / t_ky+valibot = ${cold.processRatio.toFixed(2)}×`,
  )
  log()
  log(
    `## CLI cold start (no request sent; ${cliCold.runs} runs each, every run paired with a \`node -e 0\` just before it)`,
  )
  log()
  log(
    table(
      ['command', 'median wall', 'median ratio to node -e 0'],
      [
        ['node -e 0', `${cliCold.medianMs['node -e 0'].toFixed(1)} ms`, '1.00×'],
        ...(Object.keys(cliCold.ratio) as (keyof typeof cliCold.ratio)[]).map((name) => [
          name,
          `${cliCold.medianMs[name].toFixed(1)} ms`,
          `${cliCold.ratio[name].toFixed(2)}×`,
        ]),
      ],
    ),
  )
  log()
  log('## Browser bundles (esbuild --bundle --minify, ESM, browser; KB = 1000 bytes)')
  log()
  log(
    table(
      ['bundle', 'minified', 'gzip -9', 'brotli 11', 'budget (gzip)'],
      bundles.map((b) => [b.name, kb(b.minified), kb(b.gzip), kb(b.brotli), b.budget ? kb(b.budget) : '']),
    ),
  )

  log()
  log('## Shared sessions (fileStore, Node; bench server in its own process)')
  log()
  log(
    table(
      ['measure', 'median'],
      [
        ['cached getAccessToken()', `${sessions.cachedGetAccessTokenNs.toFixed(0)} ns`],
        [
          'authenticator.fetch / raw fetch with a fixed header (loopback resource)',
          `${sessions.fetchRatio.toFixed(2)}×`,
        ],
        ['one renewal, fileStore with its lock', `${sessions.renewalWithLockMs.toFixed(3)} ms`],
        ['one renewal, the same fileStore without lock', `${sessions.renewalWithoutLockMs.toFixed(3)} ms`],
        ['cost of the lock per renewal', `${sessions.lockCostMs.toFixed(3)} ms`],
        [
          `${sessions.contenders} processes, expired token: go → all hold the new token`,
          `${sessions.contendedMs.toFixed(1)} ms`,
        ],
        ['1 process alone: go → token', `${sessions.aloneMs.toFixed(1)} ms`],
      ],
    ),
  )

  log()
  log('## Signing per request (ES256, Web Crypto, non-extractable CryptoKey; Node)')
  log()
  log(
    table(
      ['operation', 'median', 'p95'],
      signing.map((row) => [row.operation, `${row.medianMs.toFixed(3)} ms`, `${row.p95Ms.toFixed(3)} ms`]),
    ),
  )

  // ---- targets ----
  const find = (list: RowStats[], row: string): RowStats | undefined => list.find((r) => r.row === row)
  const nodeTc = find(nodeSeqStats, 'token-client')?.medianRatio ?? Number.NaN
  const denoTc = find(denoSeqStats, 'token-client')?.medianRatio ?? Number.NaN
  const kyNote = (list: RowStats[]): string =>
    `ky alone: ${find(list, 'ky alone (our call)')?.medianRatio.toFixed(2) ?? 'n/a'}×`
  const full = bundles.find((b) => b.name.startsWith('(a)'))?.gzip ?? Number.NaN
  const marginal = bundles.find((b) => b.name.startsWith('(b)'))?.gzip ?? Number.NaN
  const kyGzip = bundles.find((b) => b.name === 'ky alone')?.gzip ?? Number.NaN
  const kyConcVsOauth4webapi = pairRatio(nodeConc, 'oauth4webapi', 'ky alone (our call)')
  const targets: [target: string, measured: string, goal: string, met: boolean, note: string][] = [
    [
      'sequential overhead, Node (getToken / raw fetch)',
      `${nodeTc.toFixed(2)}×`,
      '≤ 1.30×',
      nodeTc <= 1.3,
      kyNote(nodeSeqStats),
    ],
    [
      'sequential overhead, Deno (getToken / raw fetch)',
      `${denoTc.toFixed(2)}×`,
      '≤ 1.30×',
      denoTc <= 1.3,
      kyNote(denoSeqStats),
    ],
    [
      'concurrent throughput vs oauth4webapi (its time / ours)',
      concVsOauth4webapi === undefined ? 'n/a' : `${concVsOauth4webapi.toFixed(2)}×`,
      '≥ 1.00×',
      (concVsOauth4webapi ?? 0) >= 1,
      `ky alone: ${kyConcVsOauth4webapi?.toFixed(2) ?? 'n/a'}×`,
    ],
    ['bundle (a), gzip', kb(full), '≤ 11.00 KB', full <= 11_000, `ky alone: ${kb(kyGzip)}`],
    ['bundle (b), gzip', kb(marginal), '≤ 2.00 KB', marginal <= 2_000, ''],
    ['early polls', String(pollEarly), '0', pollEarly === 0, ''],
    ['mean poll gap deviation', `${pollMean.toFixed(2)} ms`, '≤ 15 ms', pollMean <= 15, ''],
    ...[pollPlain, pollSlow].map((poll, i): [string, string, string, boolean, string] => [
      `approved → token (run ${i + 1})`,
      `${poll.approvedToTokenMs.toFixed(1)} ms`,
      `≤ ${poll.finalIntervalMs + 50} ms`,
      poll.approvedToTokenMs <= poll.finalIntervalMs + 50,
      `interval ${poll.finalIntervalMs} ms`,
    ]),
    [
      'lock cost per renewal (with − without)',
      `${sessions.lockCostMs.toFixed(3)} ms`,
      '≤ +2 ms',
      sessions.lockCostMs <= 2,
      `${sessions.renewalWithoutLockMs.toFixed(3)} ms without`,
    ],
    [
      `${sessions.contenders} contending processes vs 1 alone`,
      `+${(sessions.contendedMs - sessions.aloneMs).toFixed(1)} ms`,
      '≤ +250 ms',
      sessions.contendedMs - sessions.aloneMs <= 250,
      `${sessions.aloneMs.toFixed(1)} ms alone`,
    ],
    ...signing
      .filter((row) => !row.operation.startsWith('clientAuthOptions'))
      .map((row): [string, string, string, boolean, string] => [
        row.operation,
        `${row.medianMs.toFixed(3)} ms`,
        '≤ 0.5 ms median',
        row.medianMs <= 0.5,
        `p95 ${row.p95Ms.toFixed(3)} ms`,
      ]),
    [
      'cold import (import cost ratio)',
      `${cold.importRatio.toFixed(2)}×`,
      '≤ 1.15×',
      cold.importRatio <= 1.15,
      `whole process: ${cold.processRatio.toFixed(2)}×`,
    ],
    ...(Object.keys(cliCold.ratio) as (keyof typeof cliCold.ratio)[]).map(
      (name): [string, string, string, boolean, string] => [
        `CLI cold start: ${name} / node -e 0`,
        `${cliCold.ratio[name].toFixed(2)}×`,
        '≤ 1.50×',
        cliCold.ratio[name] <= 1.5,
        `${cliCold.medianMs[name].toFixed(1)} ms vs ${cliCold.medianMs['node -e 0'].toFixed(1)} ms`,
      ],
    ),
  ]
  log()
  log(`## Targets${smoke ? ' (smoke run: not meaningful)' : ''}`)
  log()
  log(
    table(
      ['target', 'measured', 'goal', 'met', 'for reference'],
      targets.map(([name, measured, goal, met, note]) => [name, measured, goal, met ? 'yes' : 'NO', note]),
    ),
  )

  Object.assign(results, {
    node: { sequential: nodeSeqStats, concurrent: nodeConcStats, skipped, timingsMs: { nodeSeq, nodeConc } },
    deno: {
      runtime: deno.runtime,
      sequential: denoSeqStats,
      concurrent: denoConcStats,
      timingsMs: { sequential: deno.sequential, concurrent: deno.concurrent },
    },
    concurrentOauth4webapiOverTokenClient: concVsOauth4webapi,
    poll: {
      plain: pollPlain,
      slowDown: pollSlow,
      early: pollEarly,
      meanDeviationMs: pollMean,
      maxDeviationMs: pollMax,
    },
    coldStart: cold,
    sessions,
    cliColdStart: cliCold,
    signing,
    bundles,
    targets: targets.map(([target, measured, goal, met, note]) => ({ target, measured, goal, met, note })),
  })
} catch (err) {
  failed = true
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  results.error = err instanceof Error ? err.message : String(err)
} finally {
  await server.close()
}

mkdirSync(`${root}bench/results`, { recursive: true })
const file = `bench/results/${smoke ? 'smoke' : 'bench'}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
writeFileSync(`${root}${file}`, `${JSON.stringify(results, null, 2)}\n`)
writeFileSync(
  `${root}bench/results/${smoke ? 'smoke' : 'bench'}-latest.json`,
  `${JSON.stringify(results, null, 2)}\n`,
)
progress(`done; results in ${file}`)
process.exitCode = failed ? 1 : 0
