/**
 * Every export of the three entry points (as a user's editor sees them: the emitted .d.ts) has TSDoc with an
 * `@example`: the brief's rule, checked with the TypeScript compiler rather than by reading.
 */
import { fileURLToPath } from 'node:url'
import { expect, test } from '@playwright/test'
import ts from 'typescript'

const dist = fileURLToPath(new URL('../../dist/', import.meta.url))

for (const entry of ['index', 'node', 'deno']) {
  test(`every export of dist/${entry}.d.ts has TSDoc with an @example`, () => {
    const file = `${dist}${entry}.d.ts`
    const program = ts.createProgram([file], { strict: true, skipLibCheck: true, noEmit: true })
    const checker = program.getTypeChecker()
    const source = program.getSourceFile(file)
    expect(source, file).toBeDefined()
    const moduleSymbol = checker.getSymbolAtLocation(source as ts.SourceFile)
    expect(moduleSymbol).toBeDefined()
    const missing: string[] = []
    const exports = checker.getExportsOfModule(moduleSymbol as ts.Symbol)
    expect(exports.length).toBeGreaterThan(1)
    for (const exported of exports) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      const tags = symbol.getJsDocTags(checker)
      if (!tags.some((tag) => tag.name === 'example')) missing.push(exported.getName())
    }
    expect(missing, `exports without an @example in dist/${entry}.d.ts`).toEqual([])
  })
}
