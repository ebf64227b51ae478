import type { FetchAdapter } from './transport.ts'

export type { FetchAdapter } from './transport.ts'

/**
 * The Node fetch adapter (placeholder until the adapters land): turns `httpProxyUrl` and `verify` into an
 * undici-based `fetch`.
 *
 * @example
 * ```ts
 * import { nodeAdapter } from 'token-client/node'
 * await getToken(tokenEndpoint, { adapter: nodeAdapter, httpProxyUrl: 'http://127.0.0.1:3128' })
 * ```
 */
export const nodeAdapter: FetchAdapter = () => {
  throw new TypeError('nodeAdapter is not implemented yet')
}
