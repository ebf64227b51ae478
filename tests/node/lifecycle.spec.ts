/**
 * Lifecycle: after a call settles (success, failure, abort, timeout) nothing of the library keeps the process
 * alive: a child process that runs it exits by itself, promptly. And load: 200 device flows polled at once
 * against the hostile server all settle correctly, with no timer left behind.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, test } from '@playwright/test'
import { json, type ScriptedServer, startScriptedServer } from '../fixtures/scripted-server.ts'

const childScript = fileURLToPath(new URL('../fixtures/lifecycle-child.ts', import.meta.url))

/** Longest a child may take to exit once it printed its result (a leak holds it 30 s, or for ever). */
const exitWithinMs = 1500

interface ChildRun {
  report: Record<string, unknown> & { active: string[] }
  /** Milliseconds from the report line to the exit. */
  exitAfterReport: number
  code: number | null
  stderr: string
}

/** Runs one scenario in a child Node process; kills it (and fails) if it does not exit in time. */
function runChild(scenario: string, url: string, killAfterMs = 30_000): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, scenario, url], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let reportedAt: number | undefined
    const killer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`child ${scenario} still running after ${killAfterMs} ms; stdout: ${stdout}`))
    }, killAfterMs)
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (reportedAt === undefined && stdout.includes('\n')) reportedAt = performance.now()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('exit', (code) => {
      clearTimeout(killer)
      const exitedAt = performance.now()
      if (reportedAt === undefined)
        return reject(new Error(`child ${scenario} exited (${code}) silently: ${stderr}`))
      resolve({
        report: JSON.parse(stdout.split('\n')[0] as string),
        exitAfterReport: exitedAt - reportedAt,
        code,
        stderr,
      })
    })
  })
}

let server: ScriptedServer | undefined

test.beforeAll(async () => {
  // Each device code of the load test: `pending` answers, then its behaviour.
  const loadSeen = new Map<string, number>()
  server = await startScriptedServer({
    '/pending-then-token': (_req, res, i) =>
      i < 2
        ? json(res, 400, { error: 'authorization_pending' })
        : json(res, 200, { access_token: 'at-child' }),
    '/pending': (_req, res) => json(res, 400, { error: 'authorization_pending' }),
    '/denied': (_req, res) => json(res, 400, { error: 'access_denied' }),
    '/silent': () => {},
    '/destroy': (req) => void req.socket.destroy(),
    '/token': (_req, res) => json(res, 200, { access_token: 'at-child', expires_in: 60 }),
    '/device': (_req, res) =>
      json(res, 200, {
        device_code: 'dc',
        user_code: 'U',
        verification_uri: 'https://v.example',
        expires_in: 60,
      }),
    '/load': (req, res) => {
      const code = req.form.get('device_code') ?? ''
      const i = Number(code.slice(3))
      const n = loadSeen.get(code) ?? 0
      loadSeen.set(code, n + 1)
      // A few pending answers each, with a 429, a reset and a 503 sprinkled in; every 4th flow is denied.
      if (n === 0 && i % 5 === 0) return json(res, 429, { error: 'rate_limited' }, { 'retry-after': '0' })
      if (n === 1 && i % 7 === 0) return void req.socket.destroy()
      if (n === 2 && i % 11 === 0) return json(res, 503, { error: 'temporarily_unavailable' })
      if (n < 4) return json(res, 400, { error: 'authorization_pending' })
      if (i % 4 === 3) return json(res, 400, { error: 'access_denied' })
      json(res, 200, { access_token: `at-${i}`, refresh_token: `rt-${i}` })
    },
  })
})

test.afterAll(async () => {
  await server?.close()
})

const cases: Array<[string, Record<string, unknown>]> = [
  ['poll-success', { outcome: 'resolved' }],
  ['poll-failure', { outcome: 'rejected', name: 'AuthenticationError', error: 'access_denied' }],
  ['poll-expired', { outcome: 'rejected', name: 'AuthenticationError', error: 'expired_token' }],
  ['poll-abort-wait', { outcome: 'rejected', name: 'Error', message: 'aborted by the test' }],
  ['poll-abort-request', { outcome: 'rejected', name: 'Error', message: 'aborted by the test' }],
  ['poll-network', { outcome: 'rejected', name: 'AuthenticationError' }],
  ['poll-timeouts', { outcome: 'rejected', name: 'AuthenticationError' }],
  ['get-token', { outcome: 'resolved' }],
  ['get-token-timeout', { outcome: 'rejected', name: 'AuthenticationError' }],
  ['get-device-code', { outcome: 'resolved' }],
]

test.describe('a settled call leaves nothing behind: the child process exits by itself', () => {
  for (const [scenario, expected] of cases) {
    test(scenario, async () => {
      const run = await runChild(scenario, server?.url ?? '')
      expect(run.stderr).toBe('')
      expect(run.code).toBe(0)
      expect(run.report).toMatchObject(expected)
      // No timer of ours is still armed (AbortSignal.timeout's is unref'd and does not count).
      expect(run.report.active).not.toContain('Timeout')
      expect(run.exitAfterReport).toBeLessThan(exitWithinMs)
      test.info().annotations.push({
        type: 'exit',
        description: `${Math.round(run.exitAfterReport)} ms after settling`,
      })
    })
  }
})

test('load: 200 device flows polled at once all settle correctly, and the process exits by itself', async () => {
  const t0 = performance.now()
  const run = await runChild('load', server?.url ?? '', 50_000)
  const elapsed = performance.now() - t0
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  const results = run.report.value as Array<{ i: number; ok: boolean; value: string }>
  expect(results).toHaveLength(200)
  for (const { i, ok, value } of results) {
    if (i % 4 === 3) {
      expect({ i, ok, value }).toEqual({ i, ok: false, value: 'AuthenticationError:access_denied' })
    } else {
      // Each flow got its own token: no cross-talk between concurrent polls.
      expect({ i, ok, value }).toEqual({ i, ok: true, value: `at-${i}` })
    }
  }
  // Every flow made exactly its 5 requests (4 answers before the last; 429, reset and 503 took a slot each).
  const perCode = new Map<string, number>()
  for (const r of server?.requests('/load') ?? []) {
    const code = r.form.get('device_code') ?? ''
    perCode.set(code, (perCode.get(code) ?? 0) + 1)
  }
  expect(perCode.size).toBe(200)
  for (const count of perCode.values()) expect(count).toBe(5)
  expect(run.report.active).not.toContain('Timeout')
  expect(run.exitAfterReport).toBeLessThan(exitWithinMs)
  test
    .info()
    .annotations.push({ type: 'load', description: `200 flows, 1000 requests in ${Math.round(elapsed)} ms` })
})
