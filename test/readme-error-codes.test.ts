/**
 * The README's two error tables (Errors, and Store errors under Object
 * storage) list exactly the codes lib/errors.ts declares: a code added to
 * ShoeboxErrorCode without a row, or a row for a code that no longer exists,
 * fails here. The codes are read from the type's source, since a type union
 * has no runtime value to list.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { ROOT } from './transpile.js'

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const errorsTs = fs.readFileSync(path.join(ROOT, 'lib', 'errors.ts'), 'utf8')

function declaredCodes (): string[] {
  const union = /export type ShoeboxErrorCode =([\s\S]*?)\n\n/.exec(errorsTs)
  if (union === null) throw new Error('lib/errors.ts declares no ShoeboxErrorCode union')
  return [...union[1].matchAll(/'(SHOEBOX_[A-Z_]+)'/g)].map((m) => m[1]).sort()
}

function tableCodes (): string[] {
  return [...readme.matchAll(/^\| `(SHOEBOX_[A-Z_]+)` \|/gm)].map((m) => m[1]).sort()
}

t.test('every ShoeboxErrorCode has one row in the README error tables, and every row is a code', async (t) => {
  const declared = declaredCodes()
  const listed = tableCodes()
  t.ok(declared.length > 30, 'the union was read')
  t.same(listed.filter((c, i) => listed.indexOf(c) !== i), [], 'no code has two rows')
  t.same(declared.filter((c) => !listed.includes(c)), [], 'every declared code is in a table')
  t.same(listed.filter((c) => !declared.includes(c)), [], 'every code in a table is declared')
})
