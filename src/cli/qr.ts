import { renderUnicodeCompact } from 'uqr'

/**
 * A QR code of `text` in Unicode half blocks (two modules per character cell). The light modules and the quiet
 * zone are the drawn blocks, so it scans on the usual dark-background terminal.
 *
 * @example
 * ```ts
 * if (stderrIsTty) process.stderr.write(`${terminalQrCode(code.verificationUriComplete)}\n`)
 * ```
 */
export function terminalQrCode(text: string): string {
  return renderUnicodeCompact(text, { ecc: 'L', border: 2 })
}
