import type { FetchAdapter } from './transport.ts'

export type { FetchAdapter } from './transport.ts'

/**
 * The Deno fetch adapter (placeholder until the adapters land): turns `httpProxyUrl` and `verify` into a
 * `fetch` with a `Deno.HttpClient`.
 *
 * @example
 * ```ts
 * import { denoAdapter } from 'token-client/deno'
 * await getToken(tokenEndpoint, { adapter: denoAdapter, verify: './ca.pem' })
 * ```
 */
export const denoAdapter: FetchAdapter = () => {
  throw new TypeError('denoAdapter is not implemented yet')
}
