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
  {
    entry: { node: 'src/node.ts', deno: 'src/deno.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'es2022',
    dts: true,
    sourcemap: true,
    clean: false,
    splitting: false,
    external: ['ky', 'valibot', 'undici', 'token-client'],
  },
])
