/**
 * `npm run demo`: the built library against an embedded OpenID Connect server (oidc-provider on 127.0.0.1).
 * Runs a device flow (printing the user code and verification URL, then approving it in the background the
 * way a person would, through the server's own pages), a refresh and a client-credentials grant, and exits.
 * Tokens are shown only as their first 8 characters.
 */
import {
  AuthenticationError,
  GrantType,
  getBasicAuthorizationHeader,
  getDeviceCode,
  getToken,
  pollTokenEndpoint,
  type TokenResponse,
} from 'token-client'
import { approveInteractively, startOidcProvider } from '../tests/fixtures/oidc.ts'

const scopes = ['openid', 'offline_access', 'api:read']

function mask(token: string): string {
  return `${token.slice(0, 8)}…`
}

function show(title: string, token: TokenResponse): void {
  console.log(`\n${title}`)
  console.log(`  token type     ${token.tokenType ?? '(not given)'}`)
  console.log(`  scope          ${token.scope ?? '(not given)'}`)
  console.log(`  expires in     ${token.expiresIn === undefined ? '(not given)' : `${token.expiresIn} s`}`)
  console.log(`  refresh token  ${token.refreshToken === undefined ? 'no' : 'yes'}`)
  console.log(`  access token   ${mask(token.accessToken)}`)
}

// The server sends `interval: 1` so that the demo does not sit through RFC 8628's default 5 seconds.
const op = await startOidcProvider({ deviceInterval: 1 })
console.log(`Authorization server: ${op.issuer}`)

try {
  const { clientId } = op.deviceClient
  const device = await getDeviceCode(op.deviceAuthorizationEndpoint, clientId, { scope: scopes })
  console.log('\nDevice flow')
  console.log(`  open           ${device.verificationUri}`)
  console.log(`  and enter      ${device.userCode}`)
  if (device.verificationUriComplete !== undefined)
    console.log(`  (or open       ${device.verificationUriComplete})`)
  console.log(`  expires in     ${device.expiresIn} s, polling every ${device.interval} s`)

  // A person approving in a browser, about a second later: fill in the code, confirm, sign in, consent.
  const approval = new Promise<string>((resolve, reject) => {
    setTimeout(() => {
      approveInteractively(device.verificationUri, device.userCode)
        .then(() => 'through the verification page')
        .catch(async (err: unknown) => {
          await op.approve(device.userCode)
          return `programmatically (the verification pages failed: ${err instanceof Error ? err.message : String(err)})`
        })
        .then(resolve, reject)
    }, 1000)
  })
  approval.then(
    (how) => console.log(`  approved       ${how}`),
    () => {},
  )

  const token = await pollTokenEndpoint(device, op.tokenEndpoint, clientId, {
    onPending: ({ attempt, interval }) =>
      console.log(`  waiting        poll ${attempt}: not approved yet, next in ${interval} s`),
  })
  await approval
  show('Device flow result', token)

  if (token.refreshToken === undefined) throw new Error('the server issued no refresh token')
  const refreshed = await getToken(op.tokenEndpoint, {
    grantType: GrantType.REFRESH_TOKEN,
    refreshToken: token.refreshToken,
    clientId,
  })
  show('Refresh token grant', refreshed)

  const { clientId: serviceId, clientSecret } = op.confidentialClient
  const service = await getToken(op.tokenEndpoint, {
    authorizationHeader: getBasicAuthorizationHeader(serviceId, clientSecret),
    scopes: ['api:read'],
  })
  show('Client credentials grant', service)
  console.log('\nDone.')
} catch (err) {
  console.error(`\nDemo failed: ${err instanceof AuthenticationError ? err.message : String(err)}`)
  process.exitCode = 1
} finally {
  await op.close()
}
