import type * as NodeTty from 'node:tty'
import type * as NodeUtil from 'node:util'

/**
 * `process.getBuiltinModule` (Node ≥ 22.3, Deno 2): a built-in without the ESM facade an `import` builds for
 * it, which costs the CLI's `--help` a fifth of a bare `node -e 0` (bench/: CLI cold start). Falls back to an
 * import where it is missing.
 *
 * @example
 * ```ts
 * const fs = await builtin<typeof import('node:fs')>('node:fs')
 * ```
 */
export async function builtin<T>(name: string): Promise<T> {
  const loaded = globalThis.process?.getBuiltinModule?.(name) as T | undefined
  return loaded ?? ((await import(name)) as T)
}

/**
 * The Node built-ins the CLI's fast path uses (argument parsing, TTY checks).
 *
 * @example
 * ```ts
 * const { values } = builtins.util.parseArgs({ args, options, strict: true })
 * ```
 */
export const builtins: { util: typeof NodeUtil; tty: typeof NodeTty } = {
  util: await builtin<typeof NodeUtil>('node:util'),
  tty: await builtin<typeof NodeTty>('node:tty'),
}
