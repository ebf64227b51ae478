/**
 * `token-client/node`: what only Node can do. The fetch adapter (proxy, custom CA, through undici) and the
 * file store (with its cross-process lock).
 */
export { nodeAdapter } from './adapters/node.ts'
export type { FetchAdapter } from './protocol/transport.ts'
export { type FileLockOptions, fileStore } from './stores/file-store.ts'
