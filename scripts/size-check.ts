/**
 * `npm run size` (part of `npm test`): the browser bundle budgets of issue "Performance", enforced.
 *
 * (a) an app using the device flow + `getToken` (client credentials and refresh), ky and valibot included:
 *     ≤ 11.0 KB gzip; (b) the same app with ky and valibot external (what token-client adds to an app that
 *     already ships them): ≤ 2.0 KB gzip. esbuild (bundle, minify, ESM, browser), gzip level 9; KB = 1000 bytes.
 * Needs dist/ (`npm run build`). Prints the sizes, and the largest inputs of a bundle over budget; exits 1 then.
 */
import { kb, sourceBreakdown, tokenClientBundles } from '../bench/bundle-size.ts'

const bundles = await tokenClientBundles()
let over = false
for (const bundle of bundles) {
  const budget = bundle.budget ?? Number.POSITIVE_INFINITY
  const ok = bundle.gzip <= budget
  over ||= !ok
  process.stdout.write(
    `${ok ? 'ok  ' : 'OVER'} ${bundle.name}: ${kb(bundle.gzip)} gzip (budget ${kb(budget)}), ` +
      `${kb(bundle.brotli)} brotli, ${kb(bundle.minified)} minified\n`,
  )
  if (!ok) {
    process.stdout.write(`     ${bundle.note}; inputs (minified bytes):\n`)
    for (const input of bundle.inputs.slice(0, 8)) {
      process.stdout.write(`       ${String(input.bytes).padStart(6)}  ${input.path}\n`)
    }
  }
}
if (over) {
  process.stdout.write('     token-client by source module (minified bytes, built from src/):\n')
  for (const input of (await sourceBreakdown()).filter((i) => i.path.startsWith('src/'))) {
    process.stdout.write(`       ${String(input.bytes).padStart(6)}  ${input.path}\n`)
  }
  process.stdout.write('size-check: over budget (see bench/bundle-size.ts for what is measured).\n')
  process.exitCode = 1
}
