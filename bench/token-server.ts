/**
 * The benchmark's authorization server, run in its own child process (`fork`) so that it never competes with
 * the client for an event loop. Listens on 127.0.0.1, random port; tells the parent its port over IPC.
 *
 * - `POST /token`, `grant_type=client_credentials` with a Basic `Authorization`: a fixed token JSON.
 * - `POST /device`: a device authorization answer with the scripted interval (RFC 8628 §3.2).
 * - `POST /token`, `grant_type=urn:ietf:params:oauth:grant-type:device_code`: answers `authorization_pending`
 *   `pending` times (`slow_down` at the `slowDownAt`-th poll), then "approves" (recording the moment) and
 *   answers the token to the next poll. Poll arrival times are recorded on this process's clock.
 *
 * - `GET /resource` with a Bearer `Authorization`: a fixed small JSON (a resource server, for `authenticator.fetch`).
 *
 * IPC messages in: `{ type: 'script', interval, pending, slowDownAt }`, `{ type: 'record' }`.
 * Out: `{ type: 'listening', port }`, `{ type: 'record', ... }`.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

const tokenJson = JSON.stringify({
  access_token: 'bench-access-token-0123456789abcdefghijklmnopqrstuvwxyz',
  token_type: 'Bearer',
  expires_in: 3600,
  scope: 'api:read api:write',
})
const tokenHeaders = {
  'content-type': 'application/json',
  'content-length': Buffer.byteLength(tokenJson),
  'cache-control': 'no-store',
}

const deviceGrant = 'urn:ietf:params:oauth:grant-type:device_code'

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on this machine. */
const now = (): number => performance.timeOrigin + performance.now()

interface Script {
  interval: number
  pending: number
  slowDownAt: number
}
let script: Script = { interval: 0.2, pending: 3, slowDownAt: -1 }
let deviceAt = 0
let polls: number[] = []
let approvedAt = 0
let failures = 0

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

const server = http.createServer((req, res) => {
  const at = now()
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => {
    body += chunk
  })
  req.on('end', () => {
    // A resource server for authenticator.fetch: any bearer token is fine, the answer is fixed.
    if (req.url === '/resource' && req.method === 'GET') {
      send(res, req.headers.authorization?.startsWith('Bearer ') ? 200 : 401, '{"ok":true}')
      return
    }
    if (req.method !== 'POST') {
      failures++
      send(res, 405, '{"error":"invalid_request"}')
      return
    }
    if (req.url === '/device') {
      deviceAt = at
      polls = []
      approvedAt = 0
      send(
        res,
        200,
        JSON.stringify({
          device_code: 'bench-device-code',
          user_code: 'BNDJ-JFXL',
          verification_uri: 'http://127.0.0.1/activate',
          expires_in: 600,
          interval: script.interval,
        }),
      )
      return
    }
    if (req.url !== '/token') {
      failures++
      send(res, 404, '{"error":"invalid_request"}')
      return
    }
    if (body.includes('grant_type=client_credentials') && req.headers.authorization?.startsWith('Basic ')) {
      res.writeHead(200, tokenHeaders)
      res.end(tokenJson)
      return
    }
    const form = new URLSearchParams(body)
    if (form.get('grant_type') === deviceGrant && form.get('device_code') === 'bench-device-code') {
      polls.push(at)
      const index = polls.length - 1
      if (index < script.pending) {
        send(res, 400, `{"error":"${index === script.slowDownAt ? 'slow_down' : 'authorization_pending'}"}`)
        // The user approves right after the last pending answer: the worst case for "approved → token".
        if (index === script.pending - 1) res.on('finish', () => (approvedAt = now()))
        return
      }
      send(res, 200, tokenJson)
      return
    }
    failures++
    send(res, 400, '{"error":"invalid_request"}')
  })
})
server.keepAliveTimeout = 60_000

process.on('message', (message: { type: string } & Partial<Script>) => {
  if (message.type === 'script') {
    script = {
      interval: message.interval ?? 0.2,
      pending: message.pending ?? 3,
      slowDownAt: message.slowDownAt ?? -1,
    }
    process.send?.({ type: 'scripted' })
  } else if (message.type === 'record') {
    process.send?.({ type: 'record', deviceAt, polls, approvedAt, failures })
  }
})
process.on('disconnect', () => {
  server.closeAllConnections()
  server.close()
})

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port })
})
