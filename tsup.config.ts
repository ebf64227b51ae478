import { rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig, type Options } from 'tsup'

const coreEntry = resolve('src/index.ts')

/**
 * Imports of the core's entry point (src/index.ts) from an adapter module become imports of the package
 * itself, resolved at run time (Node and Deno both resolve a package's self-reference). Without this,
 * dist/node.js carried its own copy of the core: LoopbackAuthenticator's errors were not `instanceof` the
 * AuthenticationError of 'token-client'.
 */
const coreAsPackage = {
  name: 'core-as-package',
  setup(build: {
    onResolve(o: { filter: RegExp }, f: (a: { path: string; resolveDir: string }) => unknown): void
  }) {
    build.onResolve({ filter: /(^|\/)index\.ts$/ }, (args) =>
      resolve(args.resolveDir, args.path) === coreEntry
        ? { path: 'token-client', external: true }
        : undefined,
    )
  },
}

/** What every entry shares: ESM only, ES2022, declarations and source maps, one file per entry. */
const esm = {
  format: ['esm'],
  target: 'es2022',
  dts: true,
  sourcemap: true,
  clean: false,
  splitting: false,
} satisfies Options

// The CLI's chunks have hashed names: the ones of the previous build go first (clean: true would empty all of dist/).
rmSync('dist/cli', { recursive: true, force: true })

export default defineConfig([
  // The core is built for a neutral platform: it must run unchanged in browsers, Deno and Node,
  // so it may use only web APIs (no Node built-ins, no Buffer, no process).
  {
    ...esm,
    entry: { index: 'src/index.ts' },
    platform: 'neutral',
    treeshake: true,
    external: ['ky', 'valibot'],
  },
  // The adapters are built one per config so that each .d.ts is self-contained: a shared declaration chunk
  // would be imported as `./transport-HASH.js`, which Deno cannot map to its .d.ts when the file is local.
  {
    ...esm,
    entry: { node: 'src/node.ts' },
    platform: 'node',
    // Keep `node:fs` as written: the bare `fs` form is ambiguous outside Node (Deno, bundlers).
    removeNodeProtocol: false,
    external: ['ky', 'valibot', 'undici', 'token-client'],
    esbuildPlugins: [coreAsPackage],
  },
  {
    ...esm,
    entry: { deno: 'src/deno.ts' },
    platform: 'neutral',
    external: ['ky', 'valibot', 'token-client'],
  },
  {
    // The `token-client` bin: Node ESM (and Deno for client-credentials). The core is bundled in; the
    // adapters are loaded at run time from token-client/node (or /deno) only for --proxy/--cacert/--insecure.
    // Split: dist/cli.js is the fast path (parsing, help, usage errors) and imports nothing heavy; the commands
    // (with ky and valibot, which esbuild would otherwise hoist to the top of a single file as external static
    // imports) and the QR code are chunks in dist/cli/, loaded with import() only when a command runs.
    ...esm,
    entry: { cli: 'src/cli.ts' },
    platform: 'node',
    dts: false,
    splitting: true,
    esbuildOptions(options) {
      options.chunkNames = 'cli/[name]-[hash]'
    },
    banner: { js: '#!/usr/bin/env node' },
    // Deno resolves Node built-ins only by their `node:` names.
    removeNodeProtocol: false,
    external: ['ky', 'valibot', 'undici', 'token-client'],
    noExternal: ['uqr'],
  },
])
