/**
 * Recovery of the temporary files a writer leaves behind: torn plain and gzip
 * files are cut back to their last whole record or member and sealed, a file
 * with nothing whole is removed, live writers' and other hosts' files are left
 * alone unless forced, and damage in the middle never costs a readable record.
 * Temporary files are made by hand, named as a dead writer's would be.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import {
  encodeRecords, recoverDirectory, rollingSink, type RecordInput, type RecoveredFile, type SkippedTemp
} from '../../lib/index.js'
import { hostName, tempName } from '../../lib/roll/names.js'
import {
  archiveNames, deadPid, decodeBytes, decodeFile, range, readDir, seqOf, tempDir, tempNames, writeAll
} from '../fixtures-roll/util.js'

// A pid that is not running: set before the first test (no top-level await, see the code rules).
let dead = 0
t.before(async () => { dead = await deadPid() })

function rec (seq: number): RecordInput {
  return { metadata: { src: 'recover-test' }, payload: { seq, text: 'some payload '.repeat(seq % 4) } }
}

/** An encoded archive of records `from`..`from+n-1`, with each record's offset and size. */
function archive (n: number, from = 0): { data: Buffer, offsets: number[], sizes: number[] } {
  const data = encodeRecords(range(n, from).map(rec))
  const decoded = decodeBytes(data)
  return { data, offsets: decoded.map((d) => d.offset), sizes: decoded.map((d) => d.size) }
}

/** Write a temporary file as writer `pid` on `host` would have left it; returns its path. */
function leaveTemp (dir: string, finalName: string, data: Buffer, pid = dead, host = hostName()): string {
  const temp = path.join(dir, tempName(finalName, host, pid))
  fs.writeFileSync(temp, data)
  return temp
}

function summary (r: RecoveredFile): Omit<RecoveredFile, 'temp' | 'path'> & { name: string | null } {
  return { name: r.path === null ? null : path.basename(r.path), records: r.records, bytesDropped: r.bytesDropped, damaged: r.damaged }
}

t.test('a plain file cut mid-record is truncated back to its last whole record and sealed', async (t) => {
  const { data, offsets, sizes } = archive(10)
  const cuts: Array<[string, number]> = [
    ['one byte into record 7', offsets[7] + 1],
    ['inside the header of record 7', offsets[7] + 10],
    ['inside the payload of record 7', offsets[7] + sizes[7] - 8],
    ['one byte short of the end of record 7', offsets[7] + sizes[7] - 1]
  ]
  for (const [what, cut] of cuts) {
    const dir = tempDir(t)
    const temp = leaveTemp(dir, 'p.shoebox', data.subarray(0, cut))
    const result = await recoverDirectory(dir)
    t.same(result, [{ temp, path: path.join(dir, 'p.shoebox'), records: 7, bytesDropped: cut - offsets[7], damaged: false }], what)
    t.ok(fs.readFileSync(path.join(dir, 'p.shoebox')).equals(data.subarray(0, offsets[7])), `${what}: exactly the whole records`)
    t.notOk(fs.existsSync(temp), `${what}: the temporary file is gone`)
    t.same(fs.readdirSync(dir), ['p.shoebox'])
  }
})

t.test('a plain file that ends on a record boundary is sealed as it is', async (t) => {
  const dir = tempDir(t)
  const { data, offsets } = archive(10)
  leaveTemp(dir, 'whole.shoebox', data.subarray(0, offsets[6]))
  const result = await recoverDirectory(dir)
  t.same(result.map(summary), [{ name: 'whole.shoebox', records: 6, bytesDropped: 0, damaged: false }])
  t.ok(fs.readFileSync(path.join(dir, 'whole.shoebox')).equals(data.subarray(0, offsets[6])))
})

t.test('a gzip file whose last member is cut is cut back to its last complete member', async (t) => {
  const batches = [archive(5, 0), archive(7, 5), archive(3, 12), archive(6, 15)]
  const members = batches.map((b) => zlib.gzipSync(b.data))
  const whole3 = Buffer.concat(members.slice(0, 3))
  const last = members[3]
  const cuts: Array<[string, number]> = [
    ['in the header', 5],
    ['in the deflate data', Math.floor(last.length / 2)],
    ['without its trailer', last.length - 8],
    ['one byte short', last.length - 1]
  ]
  for (const [what, cut] of cuts) {
    const dir = tempDir(t)
    const temp = leaveTemp(dir, 'g.shoebox.gz', Buffer.concat([whole3, last.subarray(0, cut)]))
    const result = await recoverDirectory(dir)
    t.same(result, [{ temp, path: path.join(dir, 'g.shoebox.gz'), records: 15, bytesDropped: cut, damaged: false }], `last member cut ${what}`)
    const sealed = fs.readFileSync(path.join(dir, 'g.shoebox.gz'))
    t.ok(sealed.equals(whole3), `${what}: the three complete members, byte for byte`)
    t.same(decodeBytes(sealed).map((d) => seqOf(d.record)), range(15))
    t.same(tempNames(dir), [])
  }

  // A gzip file of complete members is sealed untouched.
  const dir = tempDir(t)
  leaveTemp(dir, 'full.shoebox.gz', Buffer.concat(members))
  t.same((await recoverDirectory(dir)).map(summary), [{ name: 'full.shoebox.gz', records: 21, bytesDropped: 0, damaged: false }])
  t.ok(fs.readFileSync(path.join(dir, 'full.shoebox.gz')).equals(Buffer.concat(members)))
})

t.test('a temporary file with no whole record is removed (path null)', async (t) => {
  const { data, sizes } = archive(3)
  const member = zlib.gzipSync(data)
  const cases: Array<[string, string, Buffer]> = [
    ['part of the first record', 'a.shoebox', data.subarray(0, sizes[0] - 3)],
    ['a few bytes', 'b.shoebox', data.subarray(0, 3)],
    ['part of the first gzip member', 'c.shoebox.gz', member.subarray(0, member.length - 2)],
    ['an empty file', 'd.shoebox', Buffer.alloc(0)],
    // Whole members and frames, but no record in them: sealed as an archive of 0 records, as nothing "whole" was cut.
    ['empty gzip members only', 'e.shoebox.gz', Buffer.concat([zlib.gzipSync(Buffer.alloc(0)), zlib.gzipSync(Buffer.alloc(0))])],
    ['empty gzip members, then a torn one', 'f.shoebox.gz', Buffer.concat([zlib.gzipSync(Buffer.alloc(0)), member.subarray(0, 20)])]
  ]
  for (const [what, name, bytes] of cases) {
    const dir = tempDir(t)
    const temp = leaveTemp(dir, name, bytes)
    const result = await recoverDirectory(dir)
    t.same(result, [{ temp, path: null, records: 0, bytesDropped: bytes.length, damaged: false }], what)
    t.same(fs.readdirSync(dir), [], `${what}: nothing left, no 0-byte file sealed`)
  }
})

t.test('a file under a temporary name that is no archive is left as it is (onSkip), not removed', async (t) => {
  // Another program's file, named like ours: it held no whole record, so it was deleted.
  const dir = tempDir(t)
  const notes = Buffer.from('my notes, not an archive\n')
  const theirs = leaveTemp(dir, 'notes.txt', notes)
  const skipped: SkippedTemp[] = []
  const result = await recoverDirectory(dir, { onSkip: (s) => { skipped.push(s) } })
  t.same(result, [])
  t.same(skipped, [{ temp: theirs, reason: "not an archive (its first bytes are not a record's, a gzip member's or a zstd frame's); left as it is", code: 'SHOEBOX_BAD_MAGIC' }])
  t.ok(fs.readFileSync(theirs).equals(notes), 'kept, unchanged')
})

t.test("a live writer's file (a running pid) or another host's is skipped, unless force", async (t) => {
  const dir = tempDir(t)
  const { data, offsets } = archive(8)
  const torn = data.subarray(0, offsets[5] + 3)
  // The test runner: a live process on this host.
  const live = leaveTemp(dir, 'live.shoebox', torn, process.ppid)
  const other = leaveTemp(dir, 'other.shoebox', torn, dead, 'some-other-host')
  const mine = leaveTemp(dir, 'mine.shoebox', torn)
  const skipped: SkippedTemp[] = []
  const result = await recoverDirectory(dir, { onSkip: (s) => { skipped.push(s) } })
  t.same(result.map(summary), [{ name: 'mine.shoebox', records: 5, bytesDropped: 3, damaged: false }], "only the dead writer's file")
  t.same(skipped.map((s) => s.temp).sort(), [live, other].sort(), 'onSkip names both')
  t.match(skipped.find((s) => s.temp === live)?.reason, /pid/)
  t.match(skipped.find((s) => s.temp === other)?.reason, /host/)
  t.ok(fs.readFileSync(live).equals(torn) && fs.readFileSync(other).equals(torn), 'the skipped files are untouched')
  t.notOk(fs.existsSync(mine), "the dead writer's temporary file is sealed")

  // A sink starting in the directory leaves them alone too.
  const s = rollingSink({ dir, template: 'z-{seq}.shoebox', flushInterval: 0 })
  await writeAll(s, [rec(100)])
  t.same(s.recovered, [], 'nothing more to recover')
  t.ok(fs.existsSync(live) && fs.existsSync(other), 'still there after a sink started')

  const forced = await recoverDirectory(dir, { force: true })
  t.same(forced.map(summary).sort((a, b) => String(a.name).localeCompare(String(b.name))), [
    { name: 'live.shoebox', records: 5, bytesDropped: 3, damaged: false },
    { name: 'other.shoebox', records: 5, bytesDropped: 3, damaged: false }
  ], 'force recovers both')
  t.same(tempNames(dir), [])
})

t.test('a directory or a symbolic link with a temporary name is skipped, never read, truncated or sealed', async (t) => {
  // A directory stopped the recovery of every file after it (EISDIR), and the sink's start with it;
  // a link was read and cut back through, whatever file it pointed at.
  const dir = tempDir(t)
  const elsewhere = tempDir(t)
  const { data, offsets } = archive(8)
  const torn = data.subarray(0, offsets[5] + 3)
  const target = path.join(elsewhere, 'not-yours.shoebox')
  fs.writeFileSync(target, torn)
  const asDir = path.join(dir, tempName('a.shoebox', hostName(), dead))
  fs.mkdirSync(asDir)
  const asLink = path.join(dir, tempName('b.shoebox', hostName(), dead))
  fs.symlinkSync(target, asLink)
  const mine = leaveTemp(dir, 'c.shoebox', torn)
  const skipped: SkippedTemp[] = []
  const result = await recoverDirectory(dir, { onSkip: (s) => { skipped.push(s) } })
  t.same(result.map(summary), [{ name: 'c.shoebox', records: 5, bytesDropped: 3, damaged: false }], 'the real temporary file is recovered')
  t.same(skipped, [
    { temp: asDir, reason: 'a directory, not a file a writer left' },
    { temp: asLink, reason: 'a symbolic link, not a file a writer left' }
  ])
  t.ok(fs.readFileSync(target).equals(torn), "the link's target is untouched")
  t.ok(fs.lstatSync(asLink).isSymbolicLink() && fs.statSync(asDir).isDirectory(), 'both left where they are')
  t.notOk(fs.existsSync(mine))
  t.notOk(fs.existsSync(path.join(dir, 'b.shoebox')), 'nothing sealed for the link')
})

t.test('damage in the middle followed by readable records: sealed whole, damaged, nothing deleted', async (t) => {
  const { data, offsets, sizes } = archive(10)
  const broken = Buffer.from(data)
  broken[offsets[4] + sizes[4] - 6] ^= 0xff // a payload byte of record 4: its checksum fails
  const cases: Array<[string, Buffer, number]> = [
    ['damaged record 4', broken, 9],
    ['damaged record 4 and a torn tail', broken.subarray(0, offsets[9] + 7), 8]
  ]
  for (const [what, bytes, readable] of cases) {
    const dir = tempDir(t)
    leaveTemp(dir, 'd.shoebox', bytes)
    const result = await recoverDirectory(dir)
    t.same(result.map(summary), [{ name: 'd.shoebox', records: readable, bytesDropped: 0, damaged: true }], what)
    t.ok(fs.readFileSync(path.join(dir, 'd.shoebox')).equals(bytes), `${what}: sealed byte for byte, nothing cut`)
    t.throws(() => decodeFile(path.join(dir, 'd.shoebox')), `${what}: a strict reader still sees the damage`)
  }

  // Damage in the last record, with nothing readable after it, is cut (and counted).
  const dir = tempDir(t)
  const tail = Buffer.from(data)
  tail[offsets[9] + sizes[9] - 6] ^= 0xff
  leaveTemp(dir, 't.shoebox', tail)
  t.same((await recoverDirectory(dir)).map(summary), [{ name: 't.shoebox', records: 9, bytesDropped: sizes[9], damaged: false }])
  t.same(decodeFile(path.join(dir, 't.shoebox')).map((d) => seqOf(d.record)), range(9))
})

t.test('gzip: a damaged member followed by readable members is sealed whole and reported damaged', async (t) => {
  const members = [archive(5, 0), archive(5, 5), archive(5, 10), archive(5, 15)].map((b) => zlib.gzipSync(b.data))
  const bad = Buffer.from(members[1])
  bad[bad.length - 6] ^= 0xff // its CRC no longer matches
  const bytes = Buffer.concat([members[0], bad, members[2], members[3]])
  const dir = tempDir(t)
  leaveTemp(dir, 'm.shoebox.gz', bytes)
  const result = await recoverDirectory(dir)
  t.same(result.map(summary), [{ name: 'm.shoebox.gz', records: 15, bytesDropped: 0, damaged: true }], 'records kept: every readable member')
  t.ok(fs.readFileSync(path.join(dir, 'm.shoebox.gz')).equals(bytes), 'sealed byte for byte')

  // Damage in the very first member: nothing whole before it, but readable members after: kept, not removed.
  const first = Buffer.from(members[0])
  first[first.length - 6] ^= 0xff
  const early = Buffer.concat([first, members[1], members[2]])
  const dir2 = tempDir(t)
  leaveTemp(dir2, 'e.shoebox.gz', early)
  t.same((await recoverDirectory(dir2)).map(summary), [{ name: 'e.shoebox.gz', records: 10, bytesDropped: 0, damaged: true }])
  t.ok(fs.readFileSync(path.join(dir2, 'e.shoebox.gz')).equals(early), 'sealed byte for byte')
})

t.test('gzip: a complete member whose records are followed by other bytes keeps its records (kept whole, damaged)', async (t) => {
  // Its content was judged "not whole records" and the good part ended before it: the file cut back to the
  // members before it, or removed when it was the only one ("nothing readable"), though its records read.
  const good = zlib.gzipSync(archive(5, 0).data)
  const mixed = zlib.gzipSync(Buffer.concat([archive(5, 5).data, Buffer.alloc(100)]))
  for (const [name, bytes, records] of [['two.shoebox.gz', Buffer.concat([good, mixed]), 10], ['one.shoebox.gz', mixed, 5]] as const) {
    const dir = tempDir(t)
    leaveTemp(dir, name, bytes)
    t.same((await recoverDirectory(dir)).map(summary), [{ name, records, bytesDropped: 0, damaged: true }], name)
    t.ok(fs.readFileSync(path.join(dir, name)).equals(bytes), `${name}: sealed byte for byte`)
  }
})

t.test('plain: damage in the very first record, readable records after it: kept whole, not removed', async (t) => {
  const { data, sizes } = archive(5)
  const bytes = Buffer.from(data)
  bytes[sizes[0] - 6] ^= 0xff
  const dir = tempDir(t)
  leaveTemp(dir, 'f.shoebox', bytes)
  t.same((await recoverDirectory(dir)).map(summary), [{ name: 'f.shoebox', records: 4, bytesDropped: 0, damaged: true }])
  t.ok(fs.readFileSync(path.join(dir, 'f.shoebox')).equals(bytes), 'sealed byte for byte')
})

t.test('a recovered file never replaces a file that has its name', async (t) => {
  const dir = tempDir(t)
  const existing = archive(2, 1000).data
  fs.writeFileSync(path.join(dir, 'n.shoebox'), existing)
  const { data, offsets } = archive(6)
  leaveTemp(dir, 'n.shoebox', data.subarray(0, offsets[4] + 2))
  const result = await recoverDirectory(dir)
  t.same(result.map(summary), [{ name: 'n_1.shoebox', records: 4, bytesDropped: 2, damaged: false }])
  t.ok(fs.readFileSync(path.join(dir, 'n.shoebox')).equals(existing), 'the existing file is untouched')
  t.same(readDir(dir).records.map(seqOf), [1000, 1001, 0, 1, 2, 3])
})

t.test('a sink recovers leftover files when it starts, then writes as usual', async (t) => {
  const dir = tempDir(t)
  const { data, offsets } = archive(10)
  leaveTemp(dir, 'a-1.shoebox', data.subarray(0, offsets[4] + 9))
  const gz = Buffer.concat([zlib.gzipSync(archive(3, 4).data), zlib.gzipSync(archive(3, 7).data)])
  leaveTemp(dir, 'a-2.shoebox.gz', gz.subarray(0, gz.length - 10))
  leaveTemp(dir, 'a-3.shoebox', Buffer.alloc(0))
  const s = rollingSink({ dir, template: 'b-{seq}.shoebox', roll: { records: 5 }, flushInterval: 0 })
  const events: RecoveredFile[] = []
  s.on('recover', (r: RecoveredFile) => { events.push(r) })
  await writeAll(s, range(12, 100).map(rec))
  t.same(events.map(summary), [
    { name: 'a-1.shoebox', records: 4, bytesDropped: 9, damaged: false },
    { name: 'a-2.shoebox.gz', records: 3, bytesDropped: gz.length - 10 - zlib.gzipSync(archive(3, 4).data).length, damaged: false },
    { name: null, records: 0, bytesDropped: 0, damaged: false }
  ], "'recover' events, one per temporary file")
  t.same(s.recovered, events, 'sink.recovered lists the same')
  t.same(archiveNames(dir), ['a-1.shoebox', 'a-2.shoebox.gz', 'b-000000.shoebox', 'b-000001.shoebox', 'b-000002.shoebox'])
  t.same(readDir(dir).records.map(seqOf), [...range(7), ...range(12, 100)])
  t.same(tempNames(dir), [])
})

t.test('two recoveries of one directory at once seal each file once', async (t) => {
  const dir = tempDir(t)
  const { data, offsets } = archive(10)
  for (const i of range(5)) leaveTemp(dir, `r-${i}.shoebox`, data.subarray(0, offsets[8] + 1))
  const settled = await Promise.allSettled([recoverDirectory(dir), recoverDirectory(dir), recoverDirectory(dir)])
  t.same(settled.filter((s) => s.status === 'rejected'), [], 'no recovery fails')
  t.same(archiveNames(dir), range(5).map((i) => `r-${i}.shoebox`), 'each file sealed once, under its own name')
  t.same(readDir(dir).records.map(seqOf), range(5).flatMap(() => range(8)))
  t.same(tempNames(dir), [])
})

t.test('a writer killed between linking the final name and removing the temporary one: sealed once, not twice', async (t) => {
  const dir = tempDir(t)
  const { data } = archive(6)
  const final = path.join(dir, 'k.shoebox')
  fs.writeFileSync(final, data)
  const temp = path.join(dir, tempName('k.shoebox', hostName(), dead))
  fs.linkSync(final, temp) // the same file under both names, as sealing leaves it for a moment
  const result = await recoverDirectory(dir)
  t.same(result, [{ temp, path: final, records: 6, bytesDropped: 0, damaged: false }], 'it is the file already sealed')
  t.same(fs.readdirSync(dir), ['k.shoebox'], 'no second copy (k_1.shoebox), no temporary name')
  t.ok(fs.readFileSync(final).equals(data))
})

t.test('async onRecover and onSkip are awaited: one that rejects fails the recovery with its error, after the files before it', async (t) => {
  // Without the await, a rejecting callback was an unhandled rejection (which ends the process) while recoverDirectory resolved.
  const dir = tempDir(t)
  const first = leaveTemp(dir, 'a.shoebox', archive(3).data)
  leaveTemp(dir, 'b.shoebox', archive(3).data)
  const seen: string[] = []
  const failing = new Error('my index is down')
  await t.rejects(recoverDirectory(dir, {
    onRecover: async (r) => {
      await new Promise((resolve) => setImmediate(resolve))
      seen.push(r.temp)
      if (seen.length === 1) throw failing
    }
  }), failing)
  t.same(seen, [first], 'the second file is not recovered after the failure')
  t.same(fs.readdirSync(dir).map((n) => n.endsWith('.shoebox')).sort(), [false, true], 'the first sealed, the second still under its temporary name')
  const order: string[] = []
  await recoverDirectory(dir, {
    onSkip: async () => {},
    onRecover: async (r) => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      order.push(`end ${path.basename(r.path ?? '')}`)
    }
  })
  t.same(order, ['end b.shoebox'], 'the callback ran to its end before recoverDirectory resolved')
  const other = leaveTemp(dir, 'c.shoebox', archive(1).data, process.ppid)
  await t.rejects(recoverDirectory(dir, { onSkip: async () => { throw failing } }), failing)
  t.ok(fs.existsSync(other), 'a live writer\'s file is left')
})

t.test("a file named with this process's pid that none of its sinks holds is a dead writer's: recovered", async (t) => {
  // A container restarted after a kill: same hostname, and the writer often gets the same pid (1) again. The
  // file the killed writer left carries this process's pid, and every start (recoverDirectory, a sink's) skipped
  // it as "pid N is still writing it", for good. A sink of this process writing meanwhile keeps its own file.
  const dir = tempDir(t)
  const { data, offsets } = archive(8)
  const left = leaveTemp(dir, 'left.shoebox', data.subarray(0, offsets[6] + 5), process.pid)
  const writing = rollingSink({ dir, template: 'w-{seq}.shoebox', flushInterval: '10ms', recover: false })
  const flushed = new Promise<void>((resolve) => { writing.once('flush', () => { resolve() }) })
  writing.write(rec(50))
  // The sink's flush timer does not hold the process open.
  const keepAlive = setInterval(() => {}, 1000)
  await flushed
  clearInterval(keepAlive)
  t.equal(tempNames(dir).length, 2, "the live sink's temporary file and the one left")
  const skipped: SkippedTemp[] = []
  const result = await recoverDirectory(dir, { onSkip: (s) => { skipped.push(s) } })
  t.same(result.map(summary), [{ name: 'left.shoebox', records: 6, bytesDropped: 5, damaged: false }], 'the left file is recovered')
  t.same(skipped.map((s) => s.reason), [`pid ${process.pid} is still writing it`], "the live sink's file is skipped")
  t.notOk(fs.existsSync(left))

  // A sink starting recovers such a file too.
  const again = leaveTemp(dir, 'again.shoebox', data.subarray(0, offsets[3]), process.pid)
  const s = rollingSink({ dir, template: 'z-{seq}.shoebox', flushInterval: 0 })
  await writeAll(s, [rec(100)])
  t.same(s.recovered.map(summary), [{ name: 'again.shoebox', records: 3, bytesDropped: 0, damaged: false }], 'the starting sink recovered it')
  t.notOk(fs.existsSync(again))

  await writeAll(writing, [])
  t.same(tempNames(dir), [], 'the live sink sealed its own file')
  t.same(decodeFile(path.join(dir, 'w-000000.shoebox')).map((d) => seqOf(d.record)), [50], 'with its record')
})
