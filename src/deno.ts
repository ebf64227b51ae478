/** `token-client/deno`: the fetch adapter for Deno (proxy, custom CA, through `Deno.createHttpClient`). */
export { denoAdapter } from './adapters/deno.ts'
export type { FetchAdapter } from './protocol/transport.ts'
