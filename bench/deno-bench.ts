/**
 * The global-fetch rows under Deno: raw `fetch` + `JSON.parse`, ky alone, and token-client's `getToken`, against the
 * token server the Node runner started. Run by bench/run.ts as
 * `deno run --allow-net=127.0.0.1 --allow-read bench/deno-bench.ts <tokenEndpoint> <n> <total> <inFlight> <rounds> <warmup>`;
 * prints one JSON line: `{ runtime, sequential: Timings, concurrent: Timings }`.
 */
import { getBasicAuthorizationHeader, getToken } from '../dist/index.js'
import {
  clientId,
  clientSecret,
  concurrent,
  expectToken,
  interleaved,
  kyFloorGrant,
  rawFetchGrant,
  scope,
  sequential,
} from './loop.ts'

const { Deno } = globalThis as unknown as { Deno: { args: string[]; version: { deno: string } } }
const [tokenEndpoint = '', n, total, inFlight, rounds, warmup] = Deno.args
const authorizationHeader = getBasicAuthorizationHeader(clientId, clientSecret)
const scopes = scope.split(' ')

const rows = [
  ['raw fetch', rawFetchGrant(tokenEndpoint, authorizationHeader)],
  ['ky alone (our call)', kyFloorGrant(tokenEndpoint, authorizationHeader)],
  ['token-client', async () => expectToken(await getToken(tokenEndpoint, { authorizationHeader, scopes }))],
] as const

const seq = await interleaved(rows, sequential, Number(n), Number(rounds), Number(warmup))
const conc = await interleaved(
  rows,
  (grant, count) => concurrent(grant, count, Number(inFlight)),
  Number(total),
  Number(rounds),
  Number(warmup),
)
console.log(JSON.stringify({ runtime: `Deno ${Deno.version.deno}`, sequential: seq, concurrent: conc }))
