// The fast path: parsing, help and usage errors. Nothing here may import ky, valibot, uqr or the adapters
// (tests/node/cli-cold-start.spec.ts checks): the commands that send requests are loaded only when one runs.
// `token` with a valid cached session is on the fast path too: session.ts reads the file and prints.
import { type CliIo, ConfigError, exitCode, reportUsage } from './io.ts'
import { type CliOptions, isSessionCommand, parseCliArgs } from './options.ts'
import type { SessionSettings } from './session.ts'
import { helpText, UsageError } from './usage.ts'

/**
 * Runs the `token-client` CLI: parses `argv` (without the node and script paths), runs the command, and
 * returns the exit code. The access token (or the JSON) goes to stdout, everything for a person to stderr.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv.slice(2), io)
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: CliOptions | undefined
  try {
    options = parseCliArgs(argv)
  } catch (err) {
    if (err instanceof UsageError) return reportUsage(io, err)
    throw err
  }
  if (options === undefined) {
    io.stdout.write(helpText())
    return exitCode.ok
  }
  if (options.help) {
    io.stdout.write(helpText(options.command))
    return exitCode.ok
  }
  let settings: SessionSettings | undefined
  if (isSessionCommand(options.command) && !(options.command === 'logout' && options.all)) {
    // A chunk of its own, without ky or valibot: settings from flags, environment and profile, and the cache.
    const { cachedToken, resolveSettings } = await import('./session.ts')
    try {
      settings = await resolveSettings(options, io.env)
      if (options.command === 'token') {
        const code = await cachedToken(settings, io)
        if (code !== undefined) return code
      }
    } catch (err) {
      if (err instanceof UsageError) return reportUsage(io, err)
      // A bad config.json or KUBERNETES_EXEC_INFO, an unreadable session file: the setup, not the server.
      const message = err instanceof ConfigError ? err.message : `${err instanceof Error ? err.message : err}`
      io.stderr.write(`token-client: ${message}\n`)
      return exitCode.usage
    }
  }
  // A chunk of its own in dist/ (tsup.config.ts: splitting): ky and valibot load with it, not before.
  const { runCommand } = await import('./commands.ts')
  return runCommand(options, io, settings)
}
