/**
 * `shoebox pack --dot` (issue 9, D: a README flag no test held): dot files
 * and dot directories, at the top and deeper, are packed with --dot and left
 * out (not counted as skipped) without it, with and without --include.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli } from '../cli-run.js'
import { tempDir } from '../temp-dir.js'

/** Every file under `dir`, '/'-separated, sorted. */
function files (dir: string, rel = ''): string[] {
  const out: string[] = []
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`
    if (entry.isDirectory()) out.push(...files(dir, child))
    else out.push(child)
  }
  return out.sort()
}

const TREE: Record<string, string> = {
  'plain.txt': 'p',
  '.hidden': 'h',
  '.dir/in.txt': 'in a dot directory',
  '.dir/.deeper/f.txt': 'two dots down',
  'a/.x.txt': 'a dot file below',
  'a/b.txt': 'b',
  'a/.git/config': 'a dot directory below'
}

const ALL = Object.keys(TREE).sort()
const NO_DOT = ['a/b.txt', 'plain.txt']

for (const [args, expected, what] of [
  [['--dot'], ALL, '--dot: dot files and dot directories, at every depth'],
  [[], NO_DOT, 'no --dot: none of them'],
  [['--dot', '--include', '**/*.txt'], ['.dir/.deeper/f.txt', '.dir/in.txt', 'a/.x.txt', 'a/b.txt', 'plain.txt'], '--dot --include **/*.txt'],
  [['--include', '**/*.txt'], NO_DOT, '--include **/*.txt without --dot']
] as Array<[string[], string[], string]>) {
  t.test(`pack ${what}`, async (t) => {
    const base = tempDir(t)
    const src = path.join(base, 'src')
    for (const [rel, text] of Object.entries(TREE)) {
      fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true })
      fs.writeFileSync(path.join(src, rel), text)
    }
    const store = path.join(base, 'store')
    const packed = await cli(['pack', src, '--to', store, ...args])
    t.equal(packed.code, 0, packed.stderr)
    t.match(packed.stderr, new RegExp(`^shoebox pack: ${expected.length} files, `))
    t.notMatch(packed.stderr, 'skipped', 'files the globs leave out are not counted as skipped')
    const out = path.join(base, 'out')
    const unpacked = await cli(['unpack', path.join(store, '*'), '--out', out])
    t.equal(unpacked.code, 0, unpacked.stderr)
    t.same(fs.existsSync(out) ? files(out) : [], expected)
    for (const rel of expected) t.equal(fs.readFileSync(path.join(out, rel), 'utf8'), TREE[rel], `${rel} whole`)
  })
}
