import type { UsageError } from './usage.ts'
import type { TextSink } from './waiting-indicator.ts'

/**
 * What the CLI reads and writes: the process's streams and environment, passed in (so that the CLI itself
 * touches no globals).
 *
 * @example
 * ```ts
 * const io: CliIo = {
 *   stdout: process.stdout,
 *   stderr: process.stderr,
 *   stderrIsTty: process.stderr.isTTY === true,
 *   stdinIsTty: process.stdin.isTTY === true,
 *   readStdin: () => text(process.stdin),
 *   env: process.env,
 *   signal: interrupt.signal,
 * }
 * ```
 */
export interface CliIo {
  /** Where the access token (or the JSON) goes. */
  stdout: TextSink
  /** Where everything for the person goes: the code, the URL, the waiting indicator, errors. */
  stderr: TextSink
  /** Whether stderr is a terminal: the QR code and the live countdown are drawn only then. */
  stderrIsTty: boolean
  /** Whether stdin is a terminal: secrets are not read from one (they would be echoed). */
  stdinIsTty: boolean
  /** Reads stdin to its end (for `--client-secret-stdin` and `--refresh-token-stdin`). */
  readStdin(): Promise<string>
  /**
   * The environment: `TOKEN_CLIENT_SECRET`, `TOKEN_CLIENT_REFRESH_TOKEN`, `TOKEN_CLIENT_PROXY`, and the proxy
   * variables `proxyForUrl` reads (`HTTPS_PROXY`, `http_proxy`, `ALL_PROXY`, `NO_PROXY`).
   */
  env: Readonly<Record<string, string | undefined>>
  /** Aborted on Ctrl-C: stops the requests and the polling at once. */
  signal: AbortSignal
}

/**
 * Exit codes: 0 ok, 1 authentication failed, 2 usage error, 130 interrupted (128 + SIGINT).
 *
 * @example
 * ```ts
 * if (code === exitCode.usage) console.error('see token-client --help')
 * ```
 */
export const exitCode = { ok: 0, authFailed: 1, usage: 2, interrupted: 130 } as const

/**
 * Writes a usage error and the pointer to `--help` to stderr.
 *
 * @example
 * ```ts
 * return reportUsage(io, new UsageError('--client-id is required.', 'device'))
 * ```
 *
 * @returns {@link exitCode}.usage
 */
export function reportUsage(io: CliIo, err: UsageError): number {
  const hint = err.command === undefined ? 'token-client --help' : `token-client ${err.command} --help`
  io.stderr.write(`token-client: ${err.message}\nRun '${hint}' for usage.\n`)
  return exitCode.usage
}

/**
 * A setting the CLI cannot work with (a TOKEN_CLIENT_PROXY or HTTPS_PROXY that is no proxy URL, an unreadable
 * --cacert, undici not installed, a config.json that is not valid, an unknown profile): exit code 2 like a
 * usage error, but without the pointer to `--help`.
 *
 * @example
 * ```ts
 * throw new ConfigError('No profile "work" in ~/.config/token-client/config.json.')
 * ```
 */
export class ConfigError extends Error {
  override name = 'ConfigError'
}
