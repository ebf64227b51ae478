/**
 * `token-client/node`: what only Node can do. The fetch adapter (proxy, custom CA, through undici) and the
 * file store (with its cross-process lock), and the loopback sign-in for CLIs (a local HTTP server).
 */
export { nodeAdapter } from './adapters/node.ts'
export {
  LoopbackAuthenticator,
  type LoopbackAuthenticatorOptions,
} from './authenticators/loopback-authenticator.ts'
export type { FetchAdapter } from './protocol/transport.ts'
export { type FileLockOptions, fileStore } from './stores/file-store.ts'
