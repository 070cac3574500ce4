import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { naturalCompare } from '../../lib/index.js'
import { escapeGlob } from '../../lib/source/glob.js'
import { listFiles, splitGlob } from '../../lib/source/list.js'
import { comparator, type ListedFile } from '../../lib/source/order.js'

const sign = (n: number): number => Math.sign(n)

/** a < b, and b > a (the comparison is antisymmetric). */
function before (t: Test, a: string, b: string): void {
  t.equal(sign(naturalCompare(a, b)), -1, `'${a}' < '${b}'`)
  t.equal(sign(naturalCompare(b, a)), 1, `'${b}' > '${a}'`)
}

t.test('naturalCompare: runs of digits compare as numbers', async (t) => {
  before(t, 'f9', 'f10')
  before(t, 'f2', 'f10')
  before(t, 'file-9.shoebox', 'file-10.shoebox')
  before(t, 'x-99-z', 'x-100-a')
  before(t, '9', '10')
  before(t, 'a1', 'a2')
  // Beyond 2^53: still exact (not through Number).
  before(t, 'n12345678901234567890', 'n12345678901234567891')
  before(t, 'n9007199254740993', 'n9007199254740994')
  t.same(['f10', 'f9', 'f100', 'f1', 'f11', 'f2'].sort(naturalCompare), ['f1', 'f2', 'f9', 'f10', 'f11', 'f100'])
})

t.test('naturalCompare: leading zeros', async (t) => {
  before(t, 'a01', 'a2')
  before(t, 'a009', 'a10')
  before(t, 'a010', 'a11')
  before(t, 'a9', 'a010') // 9 < 10 whatever the zeros
  // Equal values: fewer leading zeros first, so the order stays total (no 0 for different strings).
  before(t, 'a7', 'a07')
  before(t, 'a07', 'a007')
  before(t, 'a0', 'a00')
  before(t, 'a7b2', 'a07b1') // the value tie is broken before the rest of the string counts
  t.same(['v007', 'v7', 'v07', 'v8', 'v06'].sort(naturalCompare), ['v06', 'v7', 'v07', 'v007', 'v8'])
})

t.test('naturalCompare: mixed text and numbers', async (t) => {
  before(t, 'a1b2', 'a1b10')
  before(t, 'a2b1', 'a10b1')
  before(t, 'x9z', 'x10a')
  before(t, 'abc', 'abd')
  before(t, 'A', 'a') // code units, not locale
  before(t, 'ab1', 'abc') // '1' (49) sorts before 'c' (99)
  before(t, '20240101T120000000000Z-h-1-000009.shoebox', '20240101T120000000000Z-h-1-000010.shoebox')
  before(t, '20240101T120000999000Z-h-1-000001.shoebox', '20240101T120001000000Z-h-1-000000.shoebox')
  before(t, 'f9.shoebox.gz', 'f10.shoebox')
  const names = ['events_2015_04_15_12_00_01_000000', 'events_2015_04_15_12_00_00_750000', 'events_2015_04_15_12_00_00_000000']
  t.same([...names].sort(naturalCompare), [names[2], names[1], names[0]])
})

t.test('naturalCompare: equal strings and prefixes', async (t) => {
  for (const s of ['', 'a', 'f10', 'a007b', '123', 'x-1-2-3.shoebox.gz']) t.equal(naturalCompare(s, s), 0, `'${s}' equals itself`)
  before(t, '', 'a')
  before(t, '', '0')
  before(t, 'abc', 'abcd')
  before(t, 'file', 'file1')
  before(t, 'f1', 'f1.shoebox')
  before(t, 'f1', 'f1a')
  before(t, 'f1', 'f10') // a number that is a prefix of a longer one
})

t.test('comparator: name, mtime and custom orders', async (t) => {
  const file = (name: string, mtimeMs: number): ListedFile => ({ name, path: `/d/${name}`, size: 1, mtimeMs })
  const files = [file('f10', 1), file('f9', 3), file('f1', 2), file('f2', 2)]
  t.same([...files].sort(comparator()).map((f) => f.name), ['f1', 'f2', 'f9', 'f10'], 'default is natural by name')
  t.same([...files].sort(comparator('name')).map((f) => f.name), ['f1', 'f2', 'f9', 'f10'])
  t.same([...files].sort(comparator('mtime')).map((f) => f.name), ['f10', 'f1', 'f2', 'f9'], 'by mtime, ties by name')
  const bySize = (a: ListedFile, b: ListedFile): number => b.name.length - a.name.length || naturalCompare(a.name, b.name)
  t.equal(comparator(bySize), bySize, 'a function is used as given')
})

t.test('splitGlob: absolute patterns', async (t) => {
  t.same(splitGlob('/data/backup \\(1\\) \\[x\\]/*.gz'), { root: '/data/backup (1) [x]', pattern: '*.gz' }, 'escaped glob characters name the directory itself')
  t.same(splitGlob('/data/' + escapeGlob('a{b,c}*?!+@\\') + '/f'), { root: '/data/a{b,c}*?!+@\\', pattern: 'f' })
  t.same(splitGlob('/data/a\\b/*'), { root: '/data/a\\b', pattern: '*' }, 'a backslash before an ordinary character stays')
  t.same(splitGlob('/var/log/app/*.shoebox'), { root: '/var/log/app', pattern: '*.shoebox' })
  t.same(splitGlob('/var/log/**/*.gz'), { root: '/var/log', pattern: '**/*.gz' })
  t.same(splitGlob('/var/log/app-{a,b}/x?.shoebox'), { root: '/var/log', pattern: 'app-{a,b}/x?.shoebox' })
  t.same(splitGlob('/data/[0-9]*/f.shoebox'), { root: '/data', pattern: '[0-9]*/f.shoebox' })
  t.same(splitGlob('/*.shoebox'), { root: '/', pattern: '*.shoebox' })
  // No magic at all: the last segment is still the pattern, its directory the root.
  t.same(splitGlob('/a/b/file.shoebox'), { root: '/a/b', pattern: 'file.shoebox' })
  // The cwd does not matter for an absolute pattern.
  t.same(splitGlob('/a/*', '/elsewhere'), { root: '/a', pattern: '*' })
  // '.' and '..' are resolved away.
  t.same(splitGlob('/a/./b/../c/*.x'), { root: '/a/c', pattern: '*.x' })
})

t.test('splitGlob: relative patterns resolve against cwd', async (t) => {
  t.same(splitGlob('*.shoebox', '/base'), { root: '/base', pattern: '*.shoebox' })
  t.same(splitGlob('logs/2024/**/*.gz', '/base'), { root: '/base/logs/2024', pattern: '**/*.gz' })
  t.same(splitGlob('./logs/*', '/base/dir'), { root: '/base/dir/logs', pattern: '*' })
  t.same(splitGlob('../other/*.shoebox', '/base/dir'), { root: '/base/other', pattern: '*.shoebox' })
  t.same(splitGlob('sub/**/*.shoebox', '/base'), { root: '/base/sub', pattern: '**/*.shoebox' })
  const here = process.cwd().split(path.sep).join('/')
  t.same(splitGlob('x/*.shoebox'), { root: `${here}/x`, pattern: '*.shoebox' }, 'default cwd is process.cwd()')
})

t.test('listFiles', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-list-'))
  t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
  const write = (rel: string, bytes = 'x'): void => {
    fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true })
    fs.writeFileSync(path.join(tmp, rel), bytes)
  }
  write('a.shoebox', 'abc')
  write('b.shoebox.gz')
  write('notes.txt')
  write('.a.shoebox~host~1.part') // a writer's temporary file
  write('sub/c.shoebox')
  write('sub/deep/d.shoebox')
  fs.mkdirSync(path.join(tmp, 'dir.shoebox')) // matches the glob, but is a directory
  fs.mkdirSync(path.join(tmp, 'sub', 'empty.shoebox'))
  const root = tmp.split(path.sep).join('/')

  const names = async (pattern: string): Promise<string[]> => (await listFiles({ root, pattern })).map((f) => f.name).sort()

  t.test('matches files only, relative names, full paths, sizes', async (t) => {
    const files = (await listFiles({ root, pattern: '*.shoebox' })).sort((a, b) => naturalCompare(a.name, b.name))
    t.same(files.map((f) => f.name), ['a.shoebox'], 'directories, dotfiles and other names are left out')
    t.equal(files[0].path, path.join(tmp, 'a.shoebox'))
    t.equal(files[0].size, 3)
    t.equal(files[0].mtimeMs, fs.statSync(path.join(tmp, 'a.shoebox')).mtimeMs)
  })

  t.test('patterns below the root', async (t) => {
    t.same(await names('*'), ['a.shoebox', 'b.shoebox.gz', 'notes.txt'])
    t.same(await names('**/*.shoebox'), ['a.shoebox', 'sub/c.shoebox', 'sub/deep/d.shoebox'])
    t.same(await names('sub/*'), ['sub/c.shoebox'])
    t.same(await names('*.{shoebox,gz}'), ['a.shoebox', 'b.shoebox.gz'])
  })

  t.test('dotfiles only when the pattern asks for them', async (t) => {
    t.same(await names('.*.part'), ['.a.shoebox~host~1.part'])
  })

  t.test('a missing root lists nothing', async (t) => {
    t.same(await listFiles({ root: `${root}/does-not-exist`, pattern: '*' }), [])
    t.same(await listFiles(splitGlob(path.join(tmp, 'nope', 'deeper', '*.shoebox'))), [])
  })

  t.test('through splitGlob, the walk starts at the literal prefix', async (t) => {
    const files = await listFiles(splitGlob(path.join(tmp, 'sub', '**', '*.shoebox')))
    t.same(files.map((f) => f.name).sort(), ['c.shoebox', 'deep/d.shoebox'], 'names relative to sub/')
    t.same(files.map((f) => f.path).sort(), [path.join(tmp, 'sub', 'c.shoebox'), path.join(tmp, 'sub', 'deep', 'd.shoebox')])
  })
})
