/**
 * pack() and a file that changes while it is read (issue 9, A4): it is read
 * again, and stored only as one whole version; a file that never holds
 * still fails the pack naming it, or with skipUnreadable is skipped by name.
 *
 * The changes are made from the pack's own `progress` events (emitted after
 * each megabyte a file read returns, before the stat that ends the read),
 * not by another process racing the pack: a listener runs synchronously
 * inside the read, so "changed during its first read, exactly once" and
 * "changed during every read" happen every run, on a loaded machine too.
 * The file's mtime is first set into the past so that the rewrite moves it
 * even within one tick of the kernel's file clock.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { expectCode } from '../helpers.js'
import { pack, packFiles, type PackRecord, type ReadProgress, type SkippedEntry } from '../../lib/pack/pack.js'
import { READ_CHUNK } from '../../lib/pack/read-file.js'
import { unpack } from '../../lib/pack/unpack.js'
import { tempDir } from '../temp-dir.js'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const PAST = new Date('2001-02-03T04:05:06.789Z')

/** A file of `size` bytes all `fill`, with an mtime long past. */
function writeOld (file: string, size: number, fill: number): Buffer {
  const content = Buffer.alloc(size, fill)
  fs.writeFileSync(file, content)
  fs.utimesSync(file, PAST, PAST)
  return content
}


t.test('a large file rewritten once during its first read is packed as its new version, never torn', async (t) => {
  const base = tempDir(t)
  const src = path.join(base, 'src')
  fs.mkdirSync(src)
  const size = 3 * READ_CHUNK + 12_345
  const file = path.join(src, 'big.bin')
  const oldContent = writeOld(file, size, 0x61)
  const newContent = Buffer.alloc(size, 0x62) // same size: only the mtime and ctime tell
  fs.writeFileSync(path.join(src, 'small.txt'), 'small')
  const seen: ReadProgress[] = []
  const skipped: SkippedEntry[] = []
  const store = path.join(base, 'store')
  const summary = await pack(src, {
    to: store,
    onSkip: (e) => { skipped.push(e) },
    onProgress: (p) => {
      seen.push(p)
      // After the first megabyte of the first read: the rest of this read comes from the new version.
      if (p.path === 'big.bin' && p.attempt === 1 && p.bytes === READ_CHUNK) fs.writeFileSync(file, newContent)
    }
  })
  t.equal(summary.files, 2)
  t.same(skipped, [], 'nothing skipped')
  const bigAttempts = [...new Set(seen.filter((p) => p.path === 'big.bin').map((p) => p.attempt))]
  t.same(bigAttempts, [1, 2], 'read a second time, once')
  t.ok(seen.some((p) => p.path === 'big.bin' && p.attempt === 1 && p.bytes > READ_CHUNK), 'the first read went on past the change (it was torn)')

  const out = path.join(base, 'out')
  t.same(await unpack(path.join(store, '*'), { out }), { files: 2, bytes: size + 5, archives: 1 })
  const restored = fs.readFileSync(path.join(out, 'big.bin'))
  t.equal(restored.length, size)
  t.equal(sha256(restored), sha256(newContent), 'the new version, whole')
  t.not(sha256(restored), sha256(oldContent))
  t.equal(restored.indexOf(0x61), -1, 'not one byte of the old version')
  t.not(fs.statSync(path.join(out, 'big.bin')).mtimeMs, PAST.getTime(), 'with the new version\'s mtime')
  t.equal(fs.readFileSync(path.join(out, 'small.txt'), 'utf8'), 'small')
})

t.test('a small file changed between its read and the stat after it is read again', async (t) => {
  const src = tempDir(t)
  const file = path.join(src, 'note.txt')
  writeOld(file, 100, 0x78)
  const source = packFiles(src)
  let changed = false
  source.on('progress', () => {
    if (!changed) fs.appendFileSync(file, 'more')
    changed = true
  })
  const records = await source.toArray() as PackRecord[]
  t.equal(records.length, 1)
  t.equal(records[0].payload.toString(), 'x'.repeat(100) + 'more', 'the version after the change')
  t.same(records[0].metadata.find(([k]) => k === 'size'), ['size', '104'])
})

t.test('an empty file that gains bytes during its read is read again', async (t) => {
  const src = tempDir(t)
  const file = path.join(src, 'empty')
  writeOld(file, 0, 0)
  const source = packFiles(src)
  const attempts: number[] = []
  source.on('progress', (p: ReadProgress) => {
    attempts.push(p.attempt)
    if (p.attempt === 1) fs.writeFileSync(file, 'now') // one progress event in each read
  })
  const records = await source.toArray() as PackRecord[]
  t.same(attempts, [1, 2])
  t.equal(records[0].payload.toString(), 'now')
})

/** A tree where `moving.log` grows during every read of it (as a log being appended to would). */
function movingTree (base: string): string {
  const src = path.join(base, 'src')
  fs.mkdirSync(path.join(src, 'd'), { recursive: true })
  fs.writeFileSync(path.join(src, 'a.txt'), 'a')
  writeOld(path.join(src, 'd', 'moving.log'), 2 * READ_CHUNK, 0x6c)
  fs.writeFileSync(path.join(src, 'z.txt'), 'z')
  return src
}

function appendOnEveryRead (src: string, attempts: number[]): (p: ReadProgress) => void {
  return (p) => {
    if (p.path !== 'd/moving.log') return
    if (attempts.at(-1) !== p.attempt) attempts.push(p.attempt)
    fs.appendFileSync(path.join(src, 'd', 'moving.log'), 'another line\n')
  }
}

t.test('a file that changes during every read fails the pack, naming it, after 3 reads; nothing torn is stored', async (t) => {
  const base = tempDir(t)
  const src = movingTree(base)
  const store = path.join(base, 'store')
  const attempts: number[] = []
  let uploads = 0
  const err = await expectCode(t, pack(src, { to: store, rollSize: '1KiB', onProgress: appendOnEveryRead(src, attempts), onUpload: () => { uploads++ } }), 'SHOEBOX_IO', 'a file that never holds still')
  t.match(err?.message, path.join(src, 'd', 'moving.log'), 'names the file')
  // a.txt's archive may or may not have been uploaded by then: the message says which.
  t.match(err?.message, uploads === 0 ? `; nothing was uploaded to ${store}` : `; ${uploads} archive${uploads === 1 ? '' : 's'} uploaded to ${store} before it ${uploads === 1 ? 'stays' : 'stay'} there`, 'and what the store kept')
  t.ok(!fs.existsSync(store) || fs.readdirSync(store).length >= uploads, 'which is there')
  t.match(err?.message, /changed while it was read, 3 times \(size \d+ -> \d+/, 'says what changed, each time')
  t.match(err?.message, 'skipUnreadable', 'and how to skip it')
  t.same(attempts, [1, 2, 3], 'read three times (the default)')
  // Archives sealed before the failure may stay in the store; none holds the moving file.
  const out = path.join(base, 'out')
  // An empty store is "no archive matches": unpack only what was uploaded.
  if (uploads > 0) await unpack(path.join(store, '*'), { out })
  t.notOk(fs.existsSync(path.join(out, 'd', 'moving.log')), 'no copy of it was stored')

  const once: number[] = []
  await expectCode(t, packFiles(src, { readAttempts: 1 }).on('progress', appendOnEveryRead(src, once)).toArray(), 'SHOEBOX_IO', 'readAttempts: 1')
  t.same(once, [1], 'one read with readAttempts: 1')
  const five: number[] = []
  await expectCode(t, packFiles(src, { readAttempts: 5 }).on('progress', appendOnEveryRead(src, five)).toArray(), 'SHOEBOX_IO', 'readAttempts: 5')
  t.same(five, [1, 2, 3, 4, 5])
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => packFiles(src, { readAttempts: bad }), { code: 'SHOEBOX_INVALID_OPTION' }, `readAttempts ${bad}`)
  }
})

t.test('with skipUnreadable, a file that changes during every read is skipped by name, the rest packed', async (t) => {
  const base = tempDir(t)
  const src = movingTree(base)
  const store = path.join(base, 'store')
  const skipped: SkippedEntry[] = []
  const attempts: number[] = []
  const summary = await pack(src, { to: store, skipUnreadable: true, onSkip: (e) => { skipped.push(e) }, onProgress: appendOnEveryRead(src, attempts) })
  t.same(attempts, [1, 2, 3])
  t.equal(summary.files, 2)
  t.equal(summary.skipped, 1)
  t.equal(skipped.length, 1)
  t.equal(skipped[0].path, 'd/moving.log')
  t.equal(skipped[0].reason, 'changed while read')
  t.match(skipped[0].detail, /^changed while it was read, 3 times \(size \d+ -> \d+/)
  const out = path.join(base, 'out')
  await unpack(path.join(store, '*'), { out })
  t.same(fs.readdirSync(out).sort(), ['a.txt', 'z.txt'], 'the two others, and no directory for the skipped file')
})

t.test('a change is named with the times as they were, to the nanosecond, before 1970 too', async (t) => {
  const src = tempDir(t)
  const file = path.join(src, 'old.txt')
  fs.writeFileSync(file, 'x'.repeat(100))
  // Half a millisecond before a whole one, before the epoch: Node sets whole milliseconds only, so touch(1).
  execFileSync('touch', ['-d', '1969-12-31 23:59:59.9985 UTC', file])
  const source = packFiles(src, { readAttempts: 1 })
  source.on('progress', () => { fs.appendFileSync(file, 'more') })
  const err = await expectCode(t, source.toArray(), 'SHOEBOX_IO', 'changed during its one read')
  // It said 'mtime 1969-12-31T23:59:59.999-500000Z -> ...': the remainder of a negative count, signed, after the ms rounded toward zero.
  t.match(err?.message, /size 100 -> \d+, mtime 1969-12-31T23:59:59\.998500000Z -> \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z/)
})
