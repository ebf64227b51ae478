import { defineConfig } from 'tsup'

// The core is built for a neutral platform: it must run unchanged in browsers, Deno and Node,
// so it may use only web APIs (no Node built-ins, no Buffer, no process).
export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm'],
    platform: 'neutral',
    target: 'es2022',
    dts: true,
    sourcemap: true,
    clean: false,
    splitting: false,
    treeshake: true,
    external: ['ky', 'valibot'],
  },
  // The adapters are built one per config so that each .d.ts is self-contained: a shared declaration chunk
  // would be imported as `./transport-HASH.js`, which Deno cannot map to its .d.ts when the file is local.
  {
    entry: { node: 'src/node.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'es2022',
    dts: true,
    sourcemap: true,
    clean: false,
    splitting: false,
    // Keep `node:fs` as written: the bare `fs` form is ambiguous outside Node (Deno, bundlers).
    removeNodeProtocol: false,
    external: ['ky', 'valibot', 'undici', 'token-client'],
  },
  {
    entry: { deno: 'src/deno.ts' },
    format: ['esm'],
    platform: 'neutral',
    target: 'es2022',
    dts: true,
    sourcemap: true,
    clean: false,
    splitting: false,
    external: ['ky', 'valibot', 'token-client'],
  },
  {
    // The `token-client` bin: Node ESM (and Deno for client-credentials). The core is bundled in; the
    // adapters are loaded at run time from token-client/node (or /deno) only for --proxy/--cacert/--insecure.
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'es2022',
    dts: false,
    sourcemap: true,
    clean: false,
    splitting: false,
    banner: { js: '#!/usr/bin/env node' },
    // Deno resolves Node built-ins only by their `node:` names.
    removeNodeProtocol: false,
    external: ['ky', 'valibot', 'undici', 'token-client'],
    noExternal: ['uqr'],
  },
])
