/**
 * pack() into a directory inside the one it packs (`shoebox pack src --to
 * src/archives`): the destination is not walked into. Before, the archives
 * written there during the walk were packed again as files (a tree of 40
 * MB packed as 76 MB, 18 of its own archives inside it), and so was every
 * earlier run's output.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { pack, type SkippedEntry } from '../../lib/pack/pack.js'
import { unpack } from '../../lib/pack/unpack.js'
import { cli } from '../cli-run.js'
import { tempDir } from '../temp-dir.js'

/** src/a/f0..f9, and src/zz/ holding an earlier run's archive (zz is walked after a). */
function tree (root: string): string {
  const src = path.join(root, 'src')
  fs.mkdirSync(path.join(src, 'a'), { recursive: true })
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(src, 'a', `f${i}`), Buffer.alloc(4096, i))
  fs.mkdirSync(path.join(src, 'zz'))
  fs.writeFileSync(path.join(src, 'zz', 'earlier.shoebox'), 'an earlier run')
  return src
}

const destinations: Array<[string, (src: string) => string]> = [
  ['a path', (src) => path.join(src, 'zz')],
  ['a file:// URL', (src) => pathToFileURL(path.join(src, 'zz')).href],
  ['a path through a symbolic link to the tree', (src) => {
    const link = path.join(path.dirname(src), 'link')
    fs.symlinkSync(src, link)
    return path.join(link, 'zz')
  }]
]

for (const [what, destination] of destinations) {
  t.test(`the destination inside the tree is not packed (${what})`, async (t) => {
    const root = tempDir(t)
    const src = tree(root)
    const skipped: SkippedEntry[] = []
    const summary = await pack(src, { to: destination(src), rollSize: 1, onSkip: (entry) => { skipped.push(entry) } })
    t.equal(summary.files, 10, 'the ten files, nothing from the destination')
    t.same(skipped, [{ path: 'zz', reason: 'destination' }])
    const out = path.join(root, 'out')
    await unpack(path.join(src, 'zz', '*-*.shoebox'), { out })
    t.same(fs.readdirSync(out), ['a'], 'no archive inside an archive')
  })
}

t.test('a destination elsewhere skips nothing', async (t) => {
  const root = tempDir(t)
  const src = tree(root)
  const skipped: SkippedEntry[] = []
  const elsewhere = await pack(src, { to: path.join(root, 'store'), onSkip: (entry) => { skipped.push(entry) } })
  t.equal(elsewhere.files, 11)
  t.same(skipped, [])
})

// It was taken (its archives are written after its listing), and every later pack of the directory packed the
// archives of the runs before it: each run's archive held all the earlier ones.
t.test('the packed directory itself as the destination is refused before anything is read or uploaded', async (t) => {
  const root = tempDir(t)
  const src = tree(root)
  const before = fs.readdirSync(src)
  const link = path.join(root, 'link')
  fs.symlinkSync(src, link)
  for (const to of [src, `${src}/`, pathToFileURL(src).href, link, path.join(src, 'a', '..')]) {
    await t.rejects(pack(src, { to }), { code: 'SHOEBOX_INVALID_OPTION', option: 'to', message: new RegExp(`is the directory being packed \\(${fs.realpathSync(src)}\\)`) }, to)
  }
  t.same(fs.readdirSync(src), before, 'no archive written')
  const r = await cli(['pack', src, '--to', src])
  t.equal(r.code, 2)
  t.equal(r.stderr.split('\n')[0], `shoebox pack: --to: ${src} is the directory being packed (${fs.realpathSync(src)}): the next pack of it would pack these archives too; ` +
    'give another directory (one inside it, such as its archives/, is not packed); nothing was read or uploaded')
  t.same(fs.readdirSync(src), before, 'no archive written')
})

t.test("pack '' is a usage error (an unset shell variable), not 'option dir'", async (t) => {
  const root = tempDir(t)
  const r = await cli(['pack', '', '--to', path.join(root, 'store')])
  t.equal(r.code, 2)
  t.equal(r.stderr.split('\n')[0], "shoebox pack: '' names no directory (an empty argument: an unset shell variable?)")
  t.notOk(fs.existsSync(path.join(root, 'store')))
})
