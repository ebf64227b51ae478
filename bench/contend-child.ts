/**
 * One of the contending processes of bench/sessions.ts: a ClientCredentialsAuthenticator on a shared fileStore
 * whose token has expired. Prints `ready`, waits for `go` on stdin, calls getAccessToken(), prints `done <token>`.
 *
 *   node bench/contend-child.ts <token endpoint> <store path>
 */
import { ClientCredentialsAuthenticator } from '../dist/index.js'
import { fileStore } from '../dist/node.js'
import { clientId, clientSecret } from './loop.ts'

const [tokenEndpoint = '', storePath = ''] = process.argv.slice(2)
const auth = new ClientCredentialsAuthenticator({
  tokenEndpoint,
  clientId,
  clientSecret,
  scopes: ['api:read', 'api:write'],
  store: fileStore(storePath),
})
process.stdout.write('ready\n')
process.stdin.once('data', async () => {
  const token = await auth.getAccessToken()
  process.stdout.write(`done ${token}\n`)
  process.exit(0)
})
