/**
 * `token-client/node`: what only Node can do. The fetch adapter (proxy, custom CA, through undici), the proxy
 * for a URL from the environment (HTTPS_PROXY, NO_PROXY, ...), and the file store (with its cross-process lock).
 */
export { nodeAdapter } from './adapters/node.ts'
export { proxyForUrl } from './adapters/proxy-env.ts'
export type { FetchAdapter } from './protocol/transport.ts'
export { fileStore } from './stores/file-store.ts'
