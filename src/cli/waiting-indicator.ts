/**
 * Something to write text to, such as `process.stderr`.
 *
 * @example
 * ```ts
 * const sink: TextSink = process.stderr
 * ```
 */
export interface TextSink {
  write(text: string): unknown
}

/**
 * A running waiting indicator.
 *
 * @example
 * ```ts
 * const indicator: WaitingIndicator = startWaitingIndicator(process.stderr, { expiresInSeconds: 600, tty: true })
 * indicator.stop()
 * ```
 */
export interface WaitingIndicator {
  /** Stops it and clears its line. */
  stop(): void
}

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

function formatLeft(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000))
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`
}

/**
 * Shows that the CLI waits for the user, with the time left before the code expires: on a terminal a line
 * redrawn in place every 250 ms; elsewhere (a log file, a CI job) one plain line, so logs stay readable.
 *
 * @example
 * ```ts
 * const indicator = startWaitingIndicator(process.stderr, { expiresInSeconds: code.expiresIn, tty: true })
 * try {
 *   return await pollTokenEndpoint(code, tokenEndpoint, clientId)
 * } finally {
 *   indicator.stop()
 * }
 * ```
 */
export function startWaitingIndicator(
  sink: TextSink,
  options: { expiresInSeconds: number; tty: boolean },
): WaitingIndicator {
  const deadline = performance.now() + options.expiresInSeconds * 1000
  if (!options.tty) {
    sink.write(
      `Waiting for approval (the code expires in ${formatLeft(options.expiresInSeconds * 1000)})...\n`,
    )
    return { stop: () => {} }
  }
  let frame = 0
  const draw = (): void => {
    const left = formatLeft(deadline - performance.now())
    sink.write(`\r\x1b[2K${frames[frame++ % frames.length]} Waiting for approval... ${left} left`)
  }
  draw()
  const timer = setInterval(draw, 250)
  return {
    stop: () => {
      clearInterval(timer)
      sink.write('\r\x1b[2K')
    },
  }
}
