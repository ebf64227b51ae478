// The fast path: parsing, help and usage errors. Nothing here may import ky, valibot, uqr or the adapters
// (tests/node/cli-cold-start.spec.ts checks): the commands that send requests are loaded only when one runs.
import { type CliIo, exitCode, reportUsage } from './io.ts'
import { type CliOptions, parseCliArgs } from './options.ts'
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
  // A chunk of its own in dist/ (tsup.config.ts: splitting): ky and valibot load with it, not before.
  const { runCommand } = await import('./commands.ts')
  return runCommand(options, io)
}
