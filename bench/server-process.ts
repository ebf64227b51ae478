/** Starts bench/token-server.ts in its own process and talks to it over IPC. */
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'

export interface ServerRecord {
  deviceAt: number
  polls: number[]
  approvedAt: number
  failures: number
}

export interface BenchServer {
  /** `http://127.0.0.1:PORT` */
  url: string
  tokenEndpoint: string
  script(script: { interval: number; pending: number; slowDownAt: number }): Promise<void>
  record(): Promise<ServerRecord>
  close(): Promise<void>
}

function reply<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string } & T): void => {
      if (message.type !== type) return
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve(message)
    }
    const onExit = (code: number | null): void => {
      child.off('message', onMessage)
      reject(new Error(`the bench server exited (${code}) before answering ${type}`))
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

export async function startBenchServer(): Promise<BenchServer> {
  const child = fork(new URL('./token-server.ts', import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const { port } = await reply<{ port: number }>(child, 'listening')
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    tokenEndpoint: `${url}/token`,
    async script(script) {
      const answered = reply(child, 'scripted')
      child.send({ type: 'script', ...script })
      await answered
    },
    async record() {
      const answered = reply<ServerRecord>(child, 'record')
      child.send({ type: 'record' })
      return answered
    },
    async close() {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.disconnect()
      const timer = setTimeout(() => child.kill(), 2000)
      await exited
      clearTimeout(timer)
    },
  }
}
