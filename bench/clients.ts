/**
 * The Node rows of the throughput benchmark: the same client-credentials grant (Basic client authentication,
 * `scope=api:read api:write`) done by raw fetch, token-client (global fetch and `nodeAdapter`), oauth4webapi
 * and openid-client. Each row builds what a user would build once (header, configuration) outside the loop.
 */
import * as oauth from 'oauth4webapi'
import * as openid from 'openid-client'
import { getBasicAuthorizationHeader, getToken } from 'token-client'
import {
  clientId,
  clientSecret,
  expectToken,
  type Grant,
  kyFloorGrant,
  rawFetchGrant,
  scope,
} from './loop.ts'

export interface Row {
  name: string
  grant: Grant
}

/** A row that could not be set up (e.g. an adapter not implemented yet), and why. */
export interface SkippedRow {
  name: string
  reason: string
}

export async function nodeRows(tokenEndpoint: string): Promise<{ rows: Row[]; skipped: SkippedRow[] }> {
  const authorizationHeader = getBasicAuthorizationHeader(clientId, clientSecret)
  const scopes = scope.split(' ')
  const rows: Row[] = [
    { name: 'raw fetch', grant: rawFetchGrant(tokenEndpoint, authorizationHeader) },
    { name: 'ky alone (our call)', grant: kyFloorGrant(tokenEndpoint, authorizationHeader) },
    {
      name: 'token-client',
      grant: async () => expectToken(await getToken(tokenEndpoint, { authorizationHeader, scopes })),
    },
  ]
  const skipped: SkippedRow[] = []

  // The nodeAdapter row: undici's fetch with a keep-alive pool. Probe it once; skip the row if it does not work.
  try {
    const { nodeAdapter } = await import('token-client/node')
    const grant: Grant = async () =>
      expectToken(await getToken(tokenEndpoint, { authorizationHeader, scopes, adapter: nodeAdapter }))
    await grant()
    rows.push({ name: 'token-client + nodeAdapter', grant })
  } catch (err) {
    skipped.push({
      name: 'token-client + nodeAdapter',
      reason: err instanceof Error ? err.message : String(err),
    })
  }

  const as: oauth.AuthorizationServer = {
    issuer: new URL(tokenEndpoint).origin,
    token_endpoint: tokenEndpoint,
  }
  const client: oauth.Client = { client_id: clientId }
  const clientAuth = oauth.ClientSecretBasic(clientSecret)
  const params = { scope }
  rows.push({
    name: 'oauth4webapi',
    grant: async () => {
      const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, params, {
        [oauth.allowInsecureRequests]: true,
      })
      const token = await oauth.processClientCredentialsResponse(as, client, response)
      if (typeof token.access_token !== 'string') throw new Error('oauth4webapi: no token')
      return token
    },
  })

  // Explicit metadata, no discovery: the request is the same single POST as everyone else's.
  const config = new openid.Configuration(
    { issuer: as.issuer, token_endpoint: tokenEndpoint },
    clientId,
    undefined,
    openid.ClientSecretBasic(clientSecret),
  )
  openid.allowInsecureRequests(config)
  rows.push({
    name: 'openid-client',
    grant: async () => {
      const token = await openid.clientCredentialsGrant(config, params)
      if (typeof token.access_token !== 'string') throw new Error('openid-client: no token')
      return token
    },
  })
  return { rows, skipped }
}
