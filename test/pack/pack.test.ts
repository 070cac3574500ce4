/**
 * pack() / unpack() and their commands: a tree of 10,000 files round-trips
 * byte for byte (contents, modes less the umask, mtimes, unicode names) through a handful of
 * archives; unsafe paths, symlinked directories and content that does not
 * match its sha256 are refused with nothing written; symlinks in the source
 * are skipped, not followed; packing to and unpacking from S3.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { encodeRecords, ShoeboxError, type RecordInput } from '../../lib/index.js'
import { packFiles, pack, type PackRecord, type SkippedEntry } from '../../lib/pack/pack.js'
import { unpack } from '../../lib/pack/unpack.js'
import { packCommand } from '../../lib/cli/pack.js'
import { unpackCommand } from '../../lib/cli/unpack.js'
import type { Command } from '../../lib/cli/command.js'
import { cli } from '../cli-run.js'
import { expectCode, mulberry32 } from '../helpers.js'
import { startS3 } from '../s3-server.js'
import { tempDir } from '../temp-dir.js'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

interface FileInfo {
  sha256: string
  size: number
  mode: number
  mtimeMs: number
}

/** Every regular file under `dir` (relative '/' paths, sorted; links not followed), with its hash, size, permission bits and mtime (ms). */
function snapshot (dir: string): Map<string, FileInfo> {
  const out = new Map<string, FileInfo>()
  for (const rel of listAll(dir)) {
    const full = path.join(dir, rel)
    const st = fs.lstatSync(full)
    if (!st.isFile()) continue
    out.set(rel, {
      sha256: sha256(fs.readFileSync(full)),
      size: st.size,
      mode: st.mode & 0o777,
      mtimeMs: Math.round(st.mtimeMs)
    })
  }
  return out
}

/**
 * The process umask, read as unpack() reads it: unpack takes it off every restored mode (as tar does), so a
 * tree made with chmod (which ignores it) comes back with these bits cleared under an umask such as 077.
 */
const UMASK = process.umask()

/** `snap` as unpack restores it: each mode less the umask. */
function asUnpacked (snap: Map<string, FileInfo>): Map<string, FileInfo> {
  return new Map([...snap].map(([rel, info]) => [rel, { ...info, mode: info.mode & ~UMASK }]))
}

/** Everything under `dir`, files, directories and links (not followed), as relative '/' paths, sorted. */
function listAll (dir: string, rel = ''): string[] {
  const at = path.join(dir, rel)
  if (!fs.existsSync(at)) return []
  const out: string[] = []
  for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`
    out.push(child)
    if (entry.isDirectory()) out.push(...listAll(dir, child))
  }
  return out.sort()
}

/** `n` bytes of seeded noise (4 bytes per PRNG step). */
function noise (random: () => number, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n + 3)
  for (let i = 0; i < n; i += 4) buf.writeUInt32LE(Math.floor(random() * 0x100000000), i)
  return buf.subarray(0, n)
}

const DIRS = ['', 'a', 'a/b', 'a/b/c/d', 'ünïcödé', '日本語/フォルダ', 'emoji-📦', 'with space/and more', 'Ωmega/ßtraße', 'x/y']
const STEMS = ['file', 'ファイル', 'naïve', '😀-grin', 'Ωmega', 'with space', 'данные', 'x']
const EXTS = ['.txt', '.bin', '', '.json', '.日本']
const MODES = [0o644, 0o600, 0o755, 0o444, 0o640]

/**
 * A tree of `count` files with seeded names, sizes, contents, modes and mtimes.
 * Sizes: most files 0-2 KiB, one in twenty up to 200 KiB; 10,000 files come to
 * ~60 MB, not the ~1 GB uniform 0-200 KiB sizes would give (too slow and big
 * for a unit test), while still spanning the whole range.
 */
function makeTree (dir: string, count: number, seed: number): { bytes: number, files: Map<string, FileInfo> } {
  const random = mulberry32(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]
  let bytes = 0
  const files = new Map<string, FileInfo>()
  for (let i = 0; i < count; i++) {
    const sub = pick(DIRS)
    const name = `${pick(STEMS)}-${i}${pick(EXTS)}`
    const rel = sub === '' ? name : `${sub}/${name}`
    const size = i === 0 ? 0 : random() < 0.05 ? Math.floor(random() * 200 * 1024) : Math.floor(random() * 2048)
    const full = path.join(dir, rel)
    fs.mkdirSync(path.dirname(full), { recursive: true })
    const content = noise(random, size)
    const mode = pick(MODES)
    fs.writeFileSync(full, content)
    fs.chmodSync(full, mode)
    const mtime = new Date(Date.UTC(2001, 0, 1) + Math.floor(random() * 20 * 365 * 86_400_000))
    fs.utimesSync(full, mtime, mtime)
    bytes += size
    files.set(rel, { sha256: sha256(content), size, mode, mtimeMs: mtime.getTime() })
  }
  // In the order snapshot() lists them.
  return { bytes, files: new Map([...files].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) }
}

/** Archives a store directory holds (what pack uploaded). */
function archivesIn (dir: string): string[] {
  return listAll(dir).filter((n) => /\.shoebox(\.gz)?$/.test(n))
}


/** Write a crafted archive (records made by hand) to `file`. */
function craft (file: string, records: RecordInput[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, encodeRecords(records))
}

/** A well-formed pack record for `rel` with `payload`. */
function packRecord (rel: string, payload: Buffer | string, overrides: Record<string, string> = {}): RecordInput {
  const bytes = Buffer.from(payload)
  const meta: Record<string, string> = {
    path: rel,
    size: String(bytes.length),
    mtime: '2020-02-02T02:02:02.002Z',
    mode: '0644',
    sha256: sha256(bytes),
    ...overrides
  }
  return { metadata: Object.entries(meta), payload: bytes }
}

interface RunResult {
  code: number
  stderr: string
  error: unknown
}

/** Run a command's run() as main() would, with in-memory standard streams. */
async function run (command: Command, argv: string[]): Promise<RunResult> {
  const err: Buffer[] = []
  const io = {
    stdin: Readable.from([]),
    stdout: new Writable({ write (_c, _e, cb) { cb() } }),
    stderr: new Writable({ write (c: Buffer, _e, cb) { err.push(Buffer.from(c)); cb() } })
  }
  try {
    const code = await command.run(argv, io)
    return { code, stderr: Buffer.concat(err).toString('utf8'), error: undefined }
  } catch (error) {
    return { code: -1, stderr: Buffer.concat(err).toString('utf8'), error }
  }
}

t.test('10,000 files (0 B-200 KiB, unicode names, nested) round-trip byte for byte through a handful of archives', async (t) => {
  const base = tempDir(t)
  const src = path.join(base, 'src')
  const store = path.join(base, 'store')
  const out = path.join(base, 'out')
  const staging = path.join(base, 'tmp')
  fs.mkdirSync(staging)
  const { bytes, files: before } = makeTree(src, 10_000, 42)
  t.equal(before.size, 10_000, 'the tree has 10,000 files')
  t.ok([...before.values()].some((f) => f.size === 0), 'an empty file among them')
  t.ok([...before.values()].some((f) => f.size > 150 * 1024), 'and files over 150 KiB')

  const uploads: string[] = []
  const summary = await pack(src, { to: store, tmpDir: staging, onUpload: (e) => { uploads.push(e.key) } })
  t.equal(summary.files, 10_000)
  t.equal(summary.bytes, bytes)
  t.equal(summary.skipped, 0)
  const archives = archivesIn(store)
  t.equal(archives.length, summary.archives, 'every sealed archive is in the store')
  t.ok(archives.length >= 1 && archives.length < 5, `a handful of objects (${archives.length}) at the default 64 MiB roll size`)
  t.same(uploads.sort(), archives, 'one upload event per archive')
  t.ok(archives.every((a) => a.startsWith('src-')), 'archives are named after the directory')
  t.same(listAll(staging), [], 'the staging directory is gone')

  const restored = await unpack(path.join(store, '*.shoebox'), { out })
  t.same(restored, { files: 10_000, bytes, archives: archives.length })
  const after = snapshot(out)
  t.same([...after.keys()], [...before.keys()], 'the same file names')
  let differ = 0
  for (const [name, info] of asUnpacked(before)) {
    const got = after.get(name)
    if (got === undefined || got.sha256 !== info.sha256 || got.size !== info.size || got.mode !== info.mode || got.mtimeMs !== info.mtimeMs) {
      if (differ++ < 5) t.fail(`${name}: ${JSON.stringify(got)} != ${JSON.stringify(info)}`)
    }
  }
  t.equal(differ, 0, 'every file has the same bytes, mode (less the umask) and mtime')
  t.same(listAll(out).filter((n) => n.includes('.shoebox-unpack-')), [], 'no temporary files left')
})

t.test('packFiles: sorted order, record shape, include globs and dot files', async (t) => {
  const src = tempDir(t)
  const files: Record<string, string> = {
    'b.txt': 'b', 'a/z.txt': 'az', 'a/b.md': 'ab', 'a-c.txt': 'ac', '.hidden': 'h', '.dir/in.txt': 'di', 'a/.x.txt': 'ax', 'Z.txt': 'Z'
  }
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true })
    fs.writeFileSync(path.join(src, rel), text)
  }
  fs.chmodSync(path.join(src, 'b.txt'), 0o640)
  fs.utimesSync(path.join(src, 'b.txt'), new Date(1_600_000_000_123), new Date(1_600_000_000_123))
  const collect = async (options: Parameters<typeof packFiles>[1]): Promise<PackRecord[]> => {
    const out: PackRecord[] = []
    for await (const r of packFiles(src, options)) out.push(r as PackRecord)
    return out
  }
  const all = await collect({})
  t.same(all.map((r) => r.metadata[0][1]), ['Z.txt', 'a/b.md', 'a/z.txt', 'a-c.txt', 'b.txt'],
    'depth first, names sorted, no dot files by default')
  const b = all.find((r) => r.metadata[0][1] === 'b.txt') as PackRecord
  t.same(b.metadata, [
    ['path', 'b.txt'], ['size', '1'], ['mtime', '2020-09-13T12:26:40.123Z'], ['mode', '0640'], ['sha256', sha256(Buffer.from('b'))]
  ], 'metadata: path, size, mtime, mode, sha256, in that order')
  t.equal(b.payload.toString(), 'b')

  const dotted = await collect({ dot: true })
  t.same(dotted.map((r) => r.metadata[0][1]), ['.dir/in.txt', '.hidden', 'Z.txt', 'a/.x.txt', 'a/b.md', 'a/z.txt', 'a-c.txt', 'b.txt'], 'dot: true')
  const txt = await collect({ include: '**/*.txt' })
  t.same(txt.map((r) => r.metadata[0][1]), ['Z.txt', 'a/z.txt', 'a-c.txt', 'b.txt'], 'include one glob')
  const two = await collect({ include: ['a/*', '*.md', 'Z.txt'] })
  t.same(two.map((r) => r.metadata[0][1]), ['Z.txt', 'a/b.md', 'a/z.txt'], 'include several globs')

  const source = packFiles(src, { include: '*.txt' })
  await source.toArray()
  t.equal(source.files, 3)
  t.equal(source.bytes, 4)

  await expectCode(t, collect({ maxFileSize: 1 }), 'SHOEBOX_INVALID_RECORD', 'a file over maxFileSize fails the walk')
  await expectCode(t, collect({ include: [] }), 'SHOEBOX_INVALID_OPTION', 'an empty include list')
  const missing = path.join(src, 'nope')
  await expectCode(t, packFiles(missing).toArray(), 'SHOEBOX_IO', 'a missing directory')
})

t.test('symlinks in the tree are skipped and counted, never followed', async (t) => {
  const base = tempDir(t)
  const src = path.join(base, 'src')
  const outside = path.join(base, 'outside')
  fs.mkdirSync(path.join(src, 'd'), { recursive: true })
  fs.mkdirSync(outside)
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret')
  fs.writeFileSync(path.join(src, 'd', 'real.txt'), 'real')
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(src, 'link-to-file'))
  fs.symlinkSync(outside, path.join(src, 'd', 'link-to-dir'))
  fs.symlinkSync('real.txt', path.join(src, 'd', 'relative-link'))
  // Other things that are not packed: a FIFO (reading it would block), a name unpack would refuse.
  const fifo = spawnSync('mkfifo', [path.join(src, 'fifo')]).status === 0
  fs.writeFileSync(path.join(src, 'back\\slash'), 'b')
  const skipped: SkippedEntry[] = []
  const store = path.join(base, 'store')
  const summary = await pack(src, { to: store, onSkip: (e) => { skipped.push(e) } })
  t.equal(summary.files, 1)
  t.equal(summary.skipped, fifo ? 5 : 4)
  t.same(skipped, [
    { path: 'back\\slash', reason: 'unsafe name', detail: 'key "back\\\\slash": contains a backslash' },
    { path: 'd/link-to-dir', reason: 'symlink' },
    { path: 'd/relative-link', reason: 'symlink' },
    ...(fifo ? [{ path: 'fifo', reason: 'not a regular file' }] : []),
    { path: 'link-to-file', reason: 'symlink' }
  ])
  const out = path.join(base, 'out')
  await unpack(path.join(store, '*'), { out })
  t.same(listAll(out), ['d', 'd/real.txt'], 'only the regular file comes back')
  const archive = fs.readFileSync(path.join(store, archivesIn(store)[0]))
  t.notOk(archive.includes('secret'), 'no byte of the linked file is in the archive')
})

t.test('gzip, a small roll size, a name; an empty tree packs to nothing', async (t) => {
  const base = tempDir(t)
  const src = path.join(base, 'src')
  makeTree(src, 300, 7)
  const store = path.join(base, 'store')
  const summary = await pack(src, { to: `file://${store}`, gzip: { level: 1 }, rollSize: '64KiB', name: 'my pack/%x{y}' })
  const archives = archivesIn(store)
  t.ok(archives.length > 3, `several archives at a 64 KiB roll (${archives.length})`)
  t.equal(summary.archives, archives.length)
  t.ok(archives.every((a) => a.startsWith('my_pack__x_y_-') && a.endsWith('.shoebox.gz')), 'names from a sanitised name, .gz')
  const out = path.join(base, 'out')
  const restored = await unpack(path.join(store, '*.gz'), { out })
  t.equal(restored.files, 300)
  t.same(snapshot(out), asUnpacked(snapshot(src)), 'round trip through gzip')

  const empty = path.join(base, 'empty')
  fs.mkdirSync(empty)
  t.same(await pack(empty, { to: path.join(base, 'store2') }), { files: 0, bytes: 0, archives: 0, archiveBytes: 0, skipped: 0 })
  // Nothing to unpack is an error, not an empty success (issue 9 A8: a mistyped pattern looks the same).
  await expectCode(t, unpack(path.join(base, 'store2', '*'), { out: path.join(base, 'out2') }), 'SHOEBOX_NOT_FOUND', 'an empty store: no archive matches')
  t.notOk(fs.existsSync(path.join(base, 'out2')), 'and the output directory it would have made is not left behind')
  fs.mkdirSync(path.join(base, 'out3'))
  await expectCode(t, unpack(path.join(base, 'store2', '*'), { out: path.join(base, 'out3') }), 'SHOEBOX_NOT_FOUND', 'the same into a directory that was there')
  t.ok(fs.existsSync(path.join(base, 'out3')), 'which stays')

  // Archives that hold no record (an empty file, an archive of nothing) restore nothing either: that was
  // "0 files from 0 archives", exit 0, and an empty directory left behind.
  craft(path.join(base, 'store4', 'a.shoebox'), [])
  fs.writeFileSync(path.join(base, 'store4', 'b.shoebox'), '')
  const hollow = unpack(path.join(base, 'store4', '*'), { out: path.join(base, 'out4') })
  await expectCode(t, hollow, 'SHOEBOX_NOT_FOUND', 'archives holding no record: nothing to unpack')
  await hollow.catch((err: Error) => t.equal(err.message, `no packed file in the 2 archives matching ${path.join(base, 'store4', '*')}: they hold no record; nothing restored into ${path.join(base, 'out4')} (made for this unpack, removed again)`))
  t.notOk(fs.existsSync(path.join(base, 'out4')), 'no output directory left behind')
  const hollowCli = await cli(['unpack', path.join(base, 'store4', '*'), '--out', path.join(base, 'out4')])
  t.equal(hollowCli.code, 1, 'the command exits 1')
  t.equal(hollowCli.stderr, `shoebox unpack: no packed file in the 2 archives matching ${path.join(base, 'store4', '*')}: they hold no record; nothing restored into ${path.join(base, 'out4')} (made for this unpack, removed again)\n`)

  await expectCode(t, pack(src, { to: 'ftp://host/x' }), 'SHOEBOX_BAD_URL', 'an unknown store scheme fails before any file is read')
  await expectCode(t, pack(src, { to: '' }), 'SHOEBOX_INVALID_OPTION', 'no destination')
  await expectCode(t, pack(src, { to: path.join(base, 'store3'), maxFileSize: '1KiB' }), 'SHOEBOX_INVALID_RECORD', 'a file over maxFileSize fails the pack')
  t.same(listAll(path.join(base, 'store3')), [], 'nothing sealed for it')
  await expectCode(t, unpack(path.join(store, '*'), { out: '' }), 'SHOEBOX_INVALID_OPTION', 'no output directory')
  fs.writeFileSync(path.join(base, 'a-file'), '')
  await expectCode(t, unpack(path.join(store, '*'), { out: path.join(base, 'a-file') }), 'SHOEBOX_IO', 'an output directory that is a file')
  await expectCode(t, pack(src, { to: store, rollSize: 'lots' }), 'SHOEBOX_INVALID_OPTION', 'a bad roll size')
})

t.test('unsafe paths in a crafted archive are refused; nothing is written outside out', async (t) => {
  const base = tempDir(t)
  const unsafe: Array<[string, string]> = [
    ['../evil.txt', "'..' segment"],
    ['/etc/shoebox-evil', 'absolute'],
    ['a/../../b', "'..' segment"],
    ['C:\\x', 'backslash'],
    ['C:x', 'absolute'],
    ['a\\..\\..\\evil', 'backslash'],
    ['nul\0byte', 'NUL'],
    ['a//b', 'empty segment'],
    ['./x', "'.' segment"],
    ['dir/', 'empty segment'],
    ['', 'non-empty']
  ]
  for (const [i, [bad, why]] of unsafe.entries()) {
    const archives = path.join(base, `archives-${i}`)
    const out = path.join(base, `out-${i}`, 'inner')
    // A good record first: it is restored, and stays after the refusal.
    craft(path.join(archives, 'crafted.shoebox'), [packRecord('good.txt', 'good'), packRecord(bad, 'evil'), packRecord('after.txt', 'after')])
    const err = await expectCode(t, unpack(path.join(archives, '*'), { out }), 'SHOEBOX_BAD_KEY', `${JSON.stringify(bad)} is refused`)
    t.match(err?.message, path.join(archives, 'crafted.shoebox'), 'the message names the archive')
    t.match(err?.message, JSON.stringify(bad), 'and the path')
    t.match(err?.message, why)
    t.same(listAll(path.join(base, `out-${i}`)), ['inner', 'inner/good.txt'], 'the file before it stays; nothing else written')
  }
  t.notOk(fs.existsSync(path.join(base, 'evil.txt')))
  t.notOk(fs.existsSync('/etc/shoebox-evil'))
  t.notOk(fs.existsSync(path.join(base, 'b')))

  const archives = path.join(base, 'no-path')
  craft(path.join(archives, 'x.shoebox'), [{ metadata: { event: 'not a file' }, payload: 'x' }])
  await expectCode(t, unpack(path.join(archives, '*'), { out: path.join(base, 'out-no-path') }), 'SHOEBOX_BAD_KEY', 'a record with no path')
})

t.test('a directory on the way that is a symlink is refused; a symlink at the target is replaced, not written through', async (t) => {
  const base = tempDir(t)
  const outside = path.join(base, 'outside')
  const out = path.join(base, 'out')
  fs.mkdirSync(outside)
  fs.mkdirSync(out)
  fs.symlinkSync(outside, path.join(out, 'link'))
  fs.writeFileSync(path.join(outside, 'target.txt'), 'untouched')
  fs.symlinkSync(path.join(outside, 'target.txt'), path.join(out, 'file-link'))

  const archives = path.join(base, 'archives')
  craft(path.join(archives, 'a.shoebox'), [packRecord('link/pwned.txt', 'pwned')])
  const err = await expectCode(t, unpack(path.join(archives, '*'), { out }), 'SHOEBOX_BAD_KEY', 'writing through a symlinked directory')
  t.match(err?.message, 'symbolic link')
  t.same(fs.readdirSync(outside), ['target.txt'], 'nothing written outside')

  craft(path.join(archives, 'a.shoebox'), [packRecord('file-link', 'replaced')])
  await expectCode(t, unpack(path.join(archives, '*'), { out }), 'SHOEBOX_IO', 'an existing name is not replaced without overwrite')
  await unpack(path.join(archives, '*'), { out, overwrite: true })
  t.equal(fs.readFileSync(path.join(outside, 'target.txt'), 'utf8'), 'untouched', 'the link target is not written')
  t.ok(fs.lstatSync(path.join(out, 'file-link')).isFile(), 'the link itself is replaced by the file')
  t.equal(fs.readFileSync(path.join(out, 'file-link'), 'utf8'), 'replaced')

  craft(path.join(archives, 'a.shoebox'), [packRecord('plain', 'p'), packRecord('plain/under', 'u')])
  await expectCode(t, unpack(path.join(archives, '*'), { out: path.join(base, 'out3') }), 'SHOEBOX_BAD_KEY', 'a file where a directory should be (see unpack-conflict.test.ts)')
})

t.test('content that does not match its sha256 or size is refused before any file is made', async (t) => {
  const base = tempDir(t)
  const cases: Array<[string, RecordInput, string]> = [
    ['hash', packRecord('f.txt', 'real bytes', { sha256: sha256(Buffer.from('other bytes')) }), 'sha256'],
    ['size', packRecord('f.txt', 'real bytes', { size: '3' }), 'the record says 3'],
    ['no hash', packRecord('f.txt', 'real bytes', { sha256: 'nothex' }), 'no valid sha256'],
    ['no size', packRecord('f.txt', 'real bytes', { size: '' }), 'no valid size']
  ]
  for (const [name, record, why] of cases) {
    const archives = path.join(base, `archives-${name}`)
    const out = path.join(base, `out-${name}`)
    craft(path.join(archives, 'bad.shoebox'), [packRecord('ok/first.txt', 'first'), record])
    const err = await expectCode(t, unpack(path.join(archives, '*'), { out }), 'SHOEBOX_VERIFY_FAILED', `${name} mismatch`)
    t.match(err?.message, 'bad.shoebox')
    t.match(err?.message, '"f.txt"')
    t.match(err?.message, why)
    t.same(listAll(out), ['ok', 'ok/first.txt'], 'no file and no temporary file for it')
  }
})

t.test('pack and unpack commands: summary lines, exit codes, usage errors, refusals', async (t) => {
  const base = tempDir(t)
  const src = path.join(base, 'src')
  makeTree(src, 50, 3)
  fs.symlinkSync('/etc', path.join(src, 'etc-link'))
  const store = path.join(base, 'store')
  const packed = await run(packCommand, [src, '--to', store, '--gzip=1', '--roll-size', '16KiB', '--include', '**', '--name', 'cli'])
  t.equal(packed.code, 0)
  t.equal(packed.error, undefined)
  t.match(packed.stderr, /^shoebox pack: 50 files, \d+ bytes from .* into \d+ archives \(\d+ bytes\) at .*, 1 skipped \(symlink: 1\), \d+\.\d s\n$/)
  t.equal(packed.stderr.split('\n').length, 2, 'one line')
  t.ok(archivesIn(store).every((a) => a.startsWith('cli-') && a.endsWith('.gz')))

  const out = path.join(base, 'out')
  const unpacked = await run(unpackCommand, [path.join(store, '*.gz'), '--out', out])
  t.equal(unpacked.code, 0)
  t.match(unpacked.stderr, /^shoebox unpack: 50 files, \d+ bytes from \d+ archives into .*out, \d+\.\d s\n$/)
  t.same(snapshot(out), asUnpacked(snapshot(src)))

  const again = await run(unpackCommand, [path.join(store, '*.gz'), '--out', out])
  t.equal((again.error as ShoeboxError).code, 'SHOEBOX_IO', 'unpacking over existing files fails')
  const overwrite = await run(unpackCommand, [path.join(store, '*.gz'), '--out', out, '--overwrite'])
  t.equal(overwrite.code, 0, '--overwrite replaces them')

  for (const [argv, what] of [
    [[src], 'no --to'],
    [['--to', store], 'no directory'],
    [[src, '--to', store, '--roll-size', 'huge'], 'a bad --roll-size'],
    [[src, '--to', store, '--gzip=12'], 'a bad gzip level'],
    [[src, '--to', store, '--bogus'], 'an unknown option']
  ] as Array<[string[], string]>) {
    const r = await run(packCommand, argv)
    t.equal((r.error as ShoeboxError).code, 'SHOEBOX_USAGE', `pack: ${what} is a usage error`)
  }
  for (const [argv, what] of [
    [[path.join(store, '*')], 'no --out'],
    [['--out', out], 'no pattern']
  ] as Array<[string[], string]>) {
    const r = await run(unpackCommand, argv)
    t.equal((r.error as ShoeboxError).code, 'SHOEBOX_USAGE', `unpack: ${what} is a usage error`)
  }

  const evil = path.join(base, 'evil')
  craft(path.join(evil, 'e.shoebox'), [packRecord('../evil.txt', 'x')])
  const refused = await run(unpackCommand, [path.join(evil, '*'), '--out', path.join(base, 'out-evil')])
  t.equal((refused.error as ShoeboxError).code, 'SHOEBOX_BAD_KEY', 'a refusal is a ShoeboxError (main prints its one line, exit 1)')
  t.notOk((refused.error as Error).message.includes('\n'), 'its message is one line')
  t.notOk(fs.existsSync(path.join(base, 'evil.txt')))
})

t.test('pack --help and unpack --help: registered in main(), every option documented', async (t) => {
  const packHelp = await cli(['pack', '--help'])
  t.equal(packHelp.code, 0, 'pack --help exits 0')
  const packText = packHelp.stdout.toString('utf8')
  t.match(packText, /^Usage: shoebox pack DIR --to URL/)
  for (const option of ['--to URL', '--include GLOB', '--dot', '--name NAME', '--gzip[=LEVEL]', '--roll-size SIZE', '--max-file-size SIZE', '--skip-unreadable', '--verbose', '--endpoint']) {
    t.match(packText, `\n  ${option}`, `pack --help documents ${option}`)
  }
  const unpackHelp = await cli(['unpack', '--help'])
  t.equal(unpackHelp.code, 0, 'unpack --help exits 0')
  const unpackText = unpackHelp.stdout.toString('utf8')
  t.match(unpackText, /^Usage: shoebox unpack PATTERN --out DIR/)
  for (const option of ['--out DIR', '--overwrite', '--max-record-size SIZE', '--endpoint']) {
    t.match(unpackText, `\n  ${option}`, `unpack --help documents ${option}`)
  }
})

t.test('through main(): exit codes and the one line on stderr', async (t) => {
  const base = tempDir(t)
  const src = path.join(base, 'src')
  makeTree(src, 20, 5)
  const store = path.join(base, 'store')
  const packed = await cli(['pack', src, '--to', store])
  t.equal(packed.code, 0)
  t.match(packed.stderr, /^shoebox pack: 20 files/)
  const unpacked = await cli(['unpack', path.join(store, '*'), '--out', path.join(base, 'out')])
  t.equal(unpacked.code, 0)
  t.same(snapshot(path.join(base, 'out')), asUnpacked(snapshot(src)))

  const evil = path.join(base, 'evil')
  craft(path.join(evil, 'e.shoebox'), [packRecord('../evil.txt', 'x')])
  const refused = await cli(['unpack', path.join(evil, '*'), '--out', path.join(base, 'out-evil')])
  t.equal(refused.code, 1, 'a refusal exits 1')
  t.match(refused.stderr, /^shoebox unpack: .*e\.shoebox.*"\.\.\/evil\.txt".*\n$/)
  t.equal(refused.stderr.split('\n').length, 2, 'one line on stderr')
  const usage = await cli(['pack', src])
  t.equal(usage.code, 2, 'a usage error exits 2')
})

t.test('pack and unpack say how long they took on the monotonic clock: a wall clock stepped back during the run is no negative time', async (t) => {
  const base = tempDir(t)
  const src = path.join(base, 'src')
  makeTree(src, 5, 2)
  const store = path.join(base, 'store')
  const wallNow = Date.now
  t.teardown(() => { Date.now = wallNow })
  // The wall clock is stepped back an hour after its first reading (NTP, a resumed VM).
  const stepBack = (): void => {
    let read = false
    Date.now = () => {
      const now = wallNow() - (read ? 3_600_000 : 0)
      read = true
      return now
    }
  }
  stepBack()
  const packed = await cli(['pack', src, '--to', store])
  Date.now = wallNow
  t.equal(packed.code, 0)
  // It said '5 files, ... into 1 archive ..., -3600.0 s'.
  t.match(packed.stderr, /^shoebox pack: 5 files, .*, \d+\.\d s\b/)
  t.notMatch(packed.stderr, /-\d+\.\d s/)
  stepBack()
  const unpacked = await cli(['unpack', path.join(store, '*'), '--out', path.join(base, 'out')])
  Date.now = wallNow
  t.equal(unpacked.code, 0)
  t.match(unpacked.stderr, /^shoebox unpack: 5 files, .*, \d+\.\d s\n$/)
})

t.test('pack with nothing to pack (an --include matching nothing, an empty directory): one line saying so, exit 1', async (t) => {
  // It printed "0 files ... into 0 archives" and exited 0: a misspelt --include passed for a pack that worked.
  const base = tempDir(t)
  const src = path.join(base, 'src')
  makeTree(src, 5, 2)
  const empty = path.join(base, 'empty')
  fs.mkdirSync(empty)
  const store = path.join(base, 'store')
  const none = await cli(['pack', src, '--to', store, '--include', '**/*.jgp'])
  t.equal(none.code, 1)
  t.equal(none.stderr, `shoebox pack: no file to pack under ${src} matching --include "**/*.jgp"; nothing was uploaded to ${store}\n`)
  const bare = await cli(['pack', empty, '--to', store])
  t.equal(bare.code, 1)
  t.equal(bare.stderr, `shoebox pack: no file to pack under ${empty}; nothing was uploaded to ${store}\n`)
  t.notOk(fs.existsSync(store), 'nothing made at the destination')
})

t.test('pack 1,000 files to S3 and unpack them from there', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const storeOptions = { endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region }
  const base = tempDir(t)
  const src = path.join(base, 'src')
  makeTree(src, 1000, 11)
  const to = `s3://${s3.bucket}/packs`
  const summary = await pack(src, { to, gzip: true, rollSize: '2MiB', storeOptions })
  t.equal(summary.files, 1000)
  const keys = s3.keys()
  t.equal(keys.length, summary.archives, 'one object per archive')
  t.ok(keys.length >= 2 && keys.length < 10, `a handful of objects (${keys.length})`)
  t.ok(keys.every((k) => k.startsWith('packs/') && k.endsWith('.shoebox.gz')), 'under the prefix')
  t.equal(s3.openMultipartUploads(), 0, 'no multipart upload left open')

  const out = path.join(base, 'out')
  const restored = await unpack(`s3://${s3.bucket}/packs/*`, { out, storeOptions })
  t.same(restored, { files: 1000, bytes: summary.bytes, archives: keys.length })
  t.same(snapshot(out), asUnpacked(snapshot(src)), 'byte-identical, with modes and mtimes')

  await expectCode(t, unpack(`s3://${s3.bucket}/packs/*`, { out, storeOptions }), 'SHOEBOX_IO', 'existing files are not replaced')

  // A failed upload fails the pack, leaves no multipart upload open and no staging files behind.
  const staging = path.join(base, 'tmp')
  fs.mkdirSync(staging)
  await expectCode(t, pack(src, { to: 's3://no-such-bucket/packs', rollSize: '256KiB', storeOptions, tmpDir: staging }), 'SHOEBOX_NO_BUCKET', 'a missing bucket')
  t.same(listAll(staging), [], 'the staging directory is gone')
  t.equal(s3.openMultipartUploads(), 0)
})

t.test('pack() and unpack() refuse a signal, a callback or a name of the wrong type at once, before reading or writing anything', async (t) => {
  const base = tempDir(t)
  const src = path.join(base, 'src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'a.txt'), 'a')
  const store = path.join(base, 'store')
  await pack(src, { to: store })
  const archives = listAll(store)
  const refused = async (p: Promise<unknown>, option: string, reason: string): Promise<void> => {
    await t.rejects(p, { code: 'SHOEBOX_INVALID_OPTION', option, reason }, `${option}: ${reason}`)
  }
  // Each threw a TypeError from inside ('signal?.addEventListener is not a function', 'name.replace is not a
  // function', Node's ERR_INVALID_ARG_TYPE for tmpDir), or was called only once its first event came, mid-run.
  await refused(pack(src, { to: store, signal: 'x' as unknown as AbortSignal }), 'signal', 'must be an AbortSignal, got "x"')
  await refused(pack(src, { to: store, signal: {} as unknown as AbortSignal }), 'signal', 'must be an AbortSignal, got {}')
  for (const callback of ['onSkip', 'onProgress', 'onSealed', 'onUpload'] as const) {
    await refused(pack(src, { to: store, [callback]: 5 }), callback, 'must be a function, got 5')
  }
  await refused(pack(src, { to: store, name: 5 as unknown as string }), 'name', 'must be a string, got 5')
  await refused(pack(src, { to: store, tmpDir: 5 as unknown as string }), 'tmpDir', 'must be a string, got 5')
  t.same(listAll(store), archives, 'no archive was added')
  const out = path.join(base, 'out')
  await refused(unpack(path.join(store, '*'), { out, signal: 'x' as unknown as AbortSignal }), 'signal', 'must be an AbortSignal, got "x"')
  // onFile: 'x' failed the unpack only after its first file was written.
  await refused(unpack(path.join(store, '*'), { out, onFile: 'x' as unknown as () => void }), 'onFile', 'must be a function, got "x"')
  t.notOk(fs.existsSync(out), 'no output directory, no file restored')
  // A signal of another realm (a polyfill's) is taken: it is told by its shape.
  const foreign = { aborted: false, reason: undefined, addEventListener () {}, removeEventListener () {} } as unknown as AbortSignal
  t.same(await unpack(path.join(store, '*'), { out, signal: foreign }), { files: 1, bytes: 1, archives: 1 })
})

t.test('pack DIR whose name is not UTF-8, as the shell passes it (each bad byte as U+FFFD), is refused saying so, not ENOENT', async (t) => {
  const base = tempDir(t)
  const named = Buffer.concat([Buffer.from(path.join(base, 'caf')), Buffer.from([0xe9])])
  fs.mkdirSync(named)
  fs.writeFileSync(Buffer.concat([named, Buffer.from('/a.txt')]), 'a')
  const given = path.join(base, 'caf\uFFFD')
  const store = path.join(base, 'store')
  const r = await cli(['pack', given, '--to', store])
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox pack: cannot pack ${given}: its name is not UTF-8 (each bad byte arrives as U+FFFD), and the name as it reads is no directory; nothing done (rename it, or run 'shoebox pack . --to ...' inside it)\n`)
  t.notOk(fs.existsSync(store), 'nothing uploaded')
})
