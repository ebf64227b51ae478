/**
 * The `token-client` command (dist/cli.js): `device`, `client-credentials`, `refresh` and `discover`.
 * Node ESM; the client-credentials command also runs under Deno (`deno run --allow-net --allow-env
 * --allow-read dist/cli.js client-credentials ...`), whose Node compatibility provides the `process` global and
 * `node:util`. Run `token-client --help` for usage.
 */
import { builtins } from './cli/builtins.ts'
import { runCli } from './cli/run.ts'

/** Reads stdin to its end (a secret is one short line: 64 KiB is plenty). */
async function readStdin(): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of process.stdin as AsyncIterable<Uint8Array | string>) {
    text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    if (text.length > 65_536) throw new Error('stdin holds more than 64 KiB: expected one line.')
  }
  return text + decoder.decode()
}

const interrupt = new AbortController()
// Ctrl-C aborts the requests and the polling at once; the CLI then exits with 130 (128 + SIGINT).
// A second Ctrl-C gets the default behaviour back (the handler is registered once).
process.once('SIGINT', () => interrupt.abort(new Error('Interrupted')))

// process.stdin and process.stderr are built on first use (a few ms of a --help that needs neither): the TTY checks
// ask the file descriptors, and stderr is reached only when something is written to it.
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: { write: (text: string) => process.stderr.write(text) },
  stderrIsTty: builtins.tty.isatty(2),
  stdinIsTty: builtins.tty.isatty(0),
  readStdin,
  env: process.env,
  signal: interrupt.signal,
})
