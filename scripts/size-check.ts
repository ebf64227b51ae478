/**
 * `npm run size` (part of `npm test`): the browser bundle sizes of issue "Performance", against its targets and
 * against the enforced regression budgets.
 *
 * (a) an app using the device flow + `getToken` (client credentials and refresh), ky and valibot included;
 * (b) the same app with ky and valibot external (what token-client adds to an app that already ships them).
 * esbuild (bundle, minify, ESM, browser), gzip level 9; KB = 1000 bytes.
 *
 * Each bundle is reported against the issue's target ((a) ≤ 11.0 KB, (b) ≤ 2.0 KB gzip: met or not met, for
 * information) and against its regression budget (bench/bundle-size.ts `budgets`: the size measured after the
 * last shrink, rounded up to the next 0.25 KB). Only the budget is enforced: over it, the script prints where
 * the bytes go and exits 1. Needs dist/ (`npm run build`).
 */
import { kb, kyAloneBundle, sourceBreakdown, tokenClientBundles } from '../bench/bundle-size.ts'

const [bundles, kyAlone] = await Promise.all([tokenClientBundles(), kyAloneBundle()])
const write = (line: string): void => {
  process.stdout.write(`${line}\n`)
}
let over = false
for (const bundle of bundles) {
  const budget = bundle.budget ?? Number.POSITIVE_INFINITY
  const target = bundle.target ?? Number.POSITIVE_INFINITY
  const ok = bundle.gzip <= budget
  over ||= !ok
  const floor = bundle.name.startsWith('(a)') ? ` (ky alone is ${kb(kyAlone.gzip)})` : ''
  write(
    `${bundle.name}: ${kb(bundle.gzip)} gzip — target ${kb(target)}: ${
      bundle.gzip <= target ? 'met' : `not met${floor}`
    }; regression budget ${kb(budget)}: ${ok ? 'ok' : 'OVER'}`,
  )
  write(`    ${bundle.note}; ${kb(bundle.brotli)} brotli, ${kb(bundle.minified)} minified`)
  if (!ok) {
    write('    inputs (minified bytes):')
    for (const input of bundle.inputs.slice(0, 8))
      write(`      ${String(input.bytes).padStart(6)}  ${input.path}`)
  }
}
if (over) {
  write('    token-client by source module (minified bytes, built from src/):')
  for (const input of (await sourceBreakdown()).filter((i) => i.path.startsWith('src/'))) {
    write(`      ${String(input.bytes).padStart(6)}  ${input.path}`)
  }
  write(
    'size-check: over the regression budget (see bench/bundle-size.ts for what is measured and the budgets).',
  )
  process.exitCode = 1
}
