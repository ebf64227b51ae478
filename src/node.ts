/**
 * `token-client/node`: what only Node (and Deno's Node compatibility) can do. The fetch adapter (proxy, custom CA,
 * through undici), the proxy for a URL from the environment (HTTPS_PROXY, NO_PROXY, ...), the file store (with its
 * cross-process lock), and the loopback sign-in for CLIs (a local HTTP server).
 */
export { nodeAdapter } from './adapters/node.ts'
export { proxyForUrl } from './adapters/proxy-env.ts'
export {
  LoopbackAuthenticator,
  type LoopbackAuthenticatorOptions,
} from './authenticators/loopback-authenticator.ts'
export type { FetchAdapter } from './protocol/transport.ts'
export { fileDPoP } from './stores/dpop-key-file.ts'
export { type FileLockOptions, fileStore } from './stores/file-store.ts'
