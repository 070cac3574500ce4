/**
 * rollingSink(): roll policies (size, count, age with its idle timer, aligned
 * age, custom policies), names and their order, the 'sealed' event, gzip
 * members, pre-encoded input, name collisions, option checks, fsync modes and
 * filesystem errors. Every directory is read back strictly and compared with
 * what was written.
 */
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import {
  encode, encodeRecords, recoverDirectory, rollingSink, ShoeboxError,
  type FlushEvent, type OpenEvent, type RecordInput, type RollFile, type RollingSink, type RollingSinkOptions,
  type RollPolicy, type SealedEvent
} from '../../lib/index.js'
import { rollingSink as makeRollingSink } from '../../lib/roll/rolling-sink.js'
import {
  archiveNames, countSyncs, decodeBytes, decodeFile, gzipMembers, prng, range, readDir, seqOf, tempDir, tempNames, within, writeAll
} from '../fixtures-roll/util.js'

interface Events {
  sealed: SealedEvent[]
  opened: OpenEvent[]
  flushed: FlushEvent[]
}

function events (sink: RollingSink): Events {
  const ev: Events = { sealed: [], opened: [], flushed: [] }
  sink.on('sealed', (e: SealedEvent) => { ev.sealed.push(e) })
  sink.on('open', (e: OpenEvent) => { ev.opened.push(e) })
  sink.on('flush', (e: FlushEvent) => { ev.flushed.push(e) })
  return ev
}

function rec (seq: number, extra: Record<string, unknown> = {}): RecordInput {
  return { metadata: { k: 'v' }, payload: { seq, ...extra } }
}

/** The directory holds sealed files only: no temporary files, no empty files. */
function checkClean (t: Test, dir: string): void {
  t.same(tempNames(dir), [], 'no .part files left')
  t.same(archiveNames(dir).filter((n) => fs.statSync(path.join(dir, n)).size === 0), [], 'no 0-byte files')
}

/** Read the directory back in natural name order and compare with the sequence written. */
function checkSequence (t: Test, dir: string, expected: number[]): string[] {
  const back = readDir(dir)
  t.same(back.records.map(seqOf), expected, 'reading the files in name order gives the written sequence')
  return back.names
}

/** Write one item and wait for its callback (the sink has taken it). */
function writeOne (sink: RollingSink, item: RecordInput | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    sink.write(item, (err) => { if (err != null) reject(err); else resolve() })
  })
}

function randomPad (random: () => number, max: number): string {
  return 'x'.repeat(Math.floor(random() * max))
}

function randomHex (random: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += Math.floor(random() * 16).toString(16)
  return s
}

function sink (dir: string, options: Omit<RollingSinkOptions, 'dir'> = {}): RollingSink {
  return rollingSink({ dir, flushInterval: 0, ...options })
}

t.test('roll by size, plain: every file but the last reaches the size and passes it by at most one record', async (t) => {
  const dir = tempDir(t)
  const limit = 4096
  const random = prng(1)
  const s = sink(dir, { roll: { size: limit }, blockSize: 1000 })
  const ev = events(s)
  const n = 600
  await writeAll(s, range(n).map((i) => rec(i, { pad: randomPad(random, 300) })))
  t.ok(ev.sealed.length >= 5, `several files (${ev.sealed.length})`)
  const files = ev.sealed.map((file) => {
    const records = decodeFile(file.path)
    return { size: fs.statSync(file.path).size, bytes: file.bytes, lastRecord: records[records.length - 1].size }
  })
  t.same(files.filter((f) => f.size !== f.bytes), [], 'sealed bytes = size on disk')
  t.same(files.slice(0, -1).filter((f) => f.size < limit), [], 'every file but the last reaches the size')
  t.same(files.filter((f) => f.size - f.lastRecord >= limit), [], 'every file was below the size before its last record')
  t.same(archiveNames(dir), ev.sealed.map((e) => path.basename(e.path)), 'names sort in write order')
  checkSequence(t, dir, range(n))
  checkClean(t, dir)
})

t.test('roll by size, gzip: files come out roughly the size', async (t) => {
  const dir = tempDir(t)
  const limit = 8192
  const random = prng(2)
  const s = sink(dir, { roll: { size: limit }, gzip: true, blockSize: 1024 })
  const ev = events(s)
  const n = 3000
  await writeAll(s, range(n).map((i) => rec(i, { hex: randomHex(random, 10 + Math.floor(random() * 40)) })))
  t.ok(ev.sealed.length >= 5, `several files (${ev.sealed.length})`)
  const sizes = ev.sealed.map((e) => fs.statSync(e.path).size)
  t.same(sizes.slice(0, -1).filter((size) => size < limit * 0.9 || size > limit * 1.15), [],
    `every file but the last is within 90%..115% of ${limit}: ${sizes.join(' ')}`)
  t.ok(sizes[sizes.length - 1] <= limit * 1.15, 'the last file is not larger')
  t.ok(ev.sealed.every((e) => e.path.endsWith('.gz')), 'names end in .gz')
  checkSequence(t, dir, range(n))
  checkClean(t, dir)
})

t.test('roll by record count: exact counts per file', async (t) => {
  const dir = tempDir(t)
  const s = sink(dir, { roll: { records: 7 }, blockSize: 200 })
  const ev = events(s)
  await writeAll(s, range(50).map((i) => rec(i)))
  const expected = [7, 7, 7, 7, 7, 7, 7, 1]
  t.same(ev.sealed.map((e) => e.records), expected, 'sealed events count the records')
  const back = readDir(dir)
  t.same(back.files.map((f) => f.length), expected, 'files hold exactly those records')
  t.same(back.records.map(seqOf), range(50))
  checkClean(t, dir)
})

t.test('a roll that falls on end() leaves no empty file, and end() with no records makes no file', async (t) => {
  const dir = tempDir(t)
  const s = sink(dir, { roll: { records: 5 } })
  const ev = events(s)
  await writeAll(s, range(10).map((i) => rec(i)))
  t.same(ev.sealed.map((e) => e.records), [5, 5])
  t.equal(ev.opened.length, 2, 'two files opened')
  t.equal(archiveNames(dir).length, 2)
  checkClean(t, dir)

  const empty = tempDir(t)
  const s2 = sink(empty, { roll: { records: 5 } })
  const ev2 = events(s2)
  await writeAll(s2, [])
  t.same(fs.readdirSync(empty), [], 'nothing written, nothing created')
  t.equal(ev2.opened.length + ev2.sealed.length, 0)
})

t.test('roll by age: an idle file is sealed by the timer, and no empty file follows', async (t) => {
  const dir = tempDir(t)
  const s = sink(dir, { roll: { age: 200 } })
  const ev = events(s)
  const sealed = once(s, 'sealed') as Promise<[SealedEvent]>
  for (const i of range(3)) s.write(rec(i))
  const [first] = await within(sealed, 10_000, 'the age timer')
  t.notOk(s.writableEnded, 'sealed while the sink is still open, with no more writes')
  t.equal(first.records, 3)
  t.ok(fs.existsSync(first.path), 'the file is there')
  t.same(decodeFile(first.path).map((r) => seqOf(r.record)), [0, 1, 2])
  // Another idle period: nothing was written, so nothing more is sealed or created.
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(ev.sealed.length, 1, 'no second file while idle')
  t.equal(archiveNames(dir).length, 1)
  // Writing again opens a new file that also rolls on time.
  const second = once(s, 'sealed') as Promise<[SealedEvent]>
  for (const i of range(2, 3)) s.write(rec(i))
  const [next] = await within(second, 10_000, 'the age timer')
  t.equal(next.records, 2)
  await writeAll(s, [])
  t.same(ev.sealed.map((e) => e.records), [3, 2])
  checkSequence(t, dir, range(5))
  checkClean(t, dir)
})

t.test('roll by age with a controlled clock: a record at or past the deadline starts the next file', async (t) => {
  const dir = tempDir(t)
  let now = Date.UTC(2024, 0, 1, 12, 0, 0)
  const s = sink(dir, { roll: { age: '10s' }, clock: () => now, template: 'age-%H%M%S-{seq}.shoebox' })
  const ev = events(s)
  const at = [0, 5000, 9999, 10_000, 12_000, 19_999, 20_000, 45_000]
  for (const [i, offset] of at.entries()) {
    now = Date.UTC(2024, 0, 1, 12, 0, 0) + offset
    await writeOne(s, rec(i)) // the sink reads the clock when it takes the record
  }
  await writeAll(s, [])
  // Files: opened at 0 (deadline 10 s), at 10 s (deadline 20 s), at 20 s (deadline 30 s), at 45 s.
  t.same(ev.sealed.map((e) => e.records), [3, 3, 1, 1])
  t.same(ev.sealed.map((e) => path.basename(e.path)),
    ['age-120000-000000.shoebox', 'age-120010-000001.shoebox', 'age-120020-000002.shoebox', 'age-120045-000003.shoebox'])
  for (const e of ev.sealed) t.ok(e.lastAt - e.firstAt < 10_000, `${path.basename(e.path)} spans less than the age`)
  checkSequence(t, dir, range(at.length))
  checkClean(t, dir)
})

t.test('aligned age: files cover whole clock periods in UTC', async (t) => {
  const dir = tempDir(t)
  const base = Date.UTC(2024, 0, 1, 12, 0, 0)
  let now = base + 40_000
  const s = sink(dir, { roll: { age: '1m', align: true }, clock: () => now, template: 'al-%H%M%S.shoebox' })
  const ev = events(s)
  // Opened at 12:00:40: rolls at 12:01:00, not at 12:01:40.
  const at = [40_000, 59_999, 60_000, 90_000, 119_999, 130_000, 179_000, 240_000]
  for (const [i, offset] of at.entries()) {
    now = base + offset
    await writeOne(s, rec(i))
  }
  await writeAll(s, [])
  t.same(ev.sealed.map((e) => e.records), [2, 3, 2, 1])
  t.same(ev.sealed.map((e) => path.basename(e.path)), ['al-120040.shoebox', 'al-120100.shoebox', 'al-120210.shoebox', 'al-120400.shoebox'])
  for (const e of ev.sealed) {
    const period = Math.floor(e.firstAt / 60_000)
    t.equal(Math.floor(e.lastAt / 60_000), period, `${path.basename(e.path)}: first and last record in the same minute`)
  }
  checkSequence(t, dir, range(at.length))
  checkClean(t, dir)
})

t.test('aligned age with the real clock: files stay within their periods, and an idle file rolls on time', async (t) => {
  const dir = tempDir(t)
  const period = 250
  const s = sink(dir, { roll: { age: period, align: true } })
  const ev = events(s)
  for (const i of range(30)) {
    await writeOne(s, rec(i))
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // No end(): the last file is sealed by its timer.
  await within((async () => { while (ev.sealed.reduce((n, e) => n + e.records, 0) < 30) await once(s, 'sealed') })(), 10_000, 'all files sealed')
  t.ok(ev.sealed.length >= 3, `several files (${ev.sealed.length})`)
  t.same(ev.sealed.filter((e) => Math.floor(e.firstAt / period) !== Math.floor(e.lastAt / period)), [],
    'every file holds records of one period only')
  await writeAll(s, [])
  checkSequence(t, dir, range(30))
  checkClean(t, dir)
})

t.test('a custom policy object ({check}) sees the file and decides the rolls', async (t) => {
  const dir = tempDir(t)
  const seen: Array<{ name: string, records: number, rawBytes: number, bytes: number }> = []
  const policy: RollPolicy = {
    check (file: RollFile) {
      seen.push({ name: file.name, records: file.records, rawBytes: file.rawBytes, bytes: file.bytes })
      return file.rawBytes >= 500
    }
  }
  const s = sink(dir, { roll: { policy }, template: 'c-{seq}.shoebox' })
  const ev = events(s)
  const n = 40
  await writeAll(s, range(n).map((i) => rec(i)))
  t.equal(seen.length, n, 'check() is asked once per record')
  t.ok(ev.sealed.length >= 3, `several files (${ev.sealed.length})`)
  // Per file, the checks count its records 1, 2, 3, ... and its raw bytes grow to the size on disk.
  for (const file of ev.sealed) {
    const name = path.basename(file.path)
    const checks = seen.filter((c) => c.name === name)
    t.same(checks.map((c) => c.records), range(file.records, 1), `${name}: records counted 1..${file.records}`)
    const lastCheck = checks[checks.length - 1]
    t.equal(lastCheck.rawBytes, file.bytes, `${name}: rawBytes at the last check = file size`)
    t.equal(lastCheck.bytes, file.bytes, `${name}: bytes (plain) = rawBytes`)
  }
  for (const file of ev.sealed.slice(0, -1)) t.ok(file.bytes >= 500, 'rolled when the policy said so')
  checkSequence(t, dir, range(n))
  checkClean(t, dir)
})

t.test('a custom policy with start() is told about each new file', async (t) => {
  const dir = tempDir(t)
  const started: Array<{ name: string, records: number }> = []
  class Alternating implements RollPolicy {
    limit = 3
    start (file: RollFile): void {
      started.push({ name: file.name, records: file.records })
      this.limit = this.limit === 3 ? 2 : 3
    }

    check (file: RollFile): boolean {
      return file.records >= this.limit
    }
  }
  const s = sink(dir, { roll: { policy: new Alternating() }, template: 'p-{seq}.shoebox' })
  const ev = events(s)
  await writeAll(s, range(12).map((i) => rec(i)))
  t.same(ev.sealed.map((e) => e.records), [2, 3, 2, 3, 2], 'start() reset the limit for every file')
  t.same(started.map((s) => s.name), ev.sealed.map((e) => path.basename(e.path)), 'start() once per file, with its name')
  t.ok(started.every((s) => s.records === 0), 'start() sees an empty file')
  checkSequence(t, dir, range(12))

  // Combined with a built-in policy, start() is still called and either may roll.
  const dir2 = tempDir(t)
  started.length = 0
  const s2 = sink(dir2, { roll: { policy: new Alternating(), records: 1000, size: '1MiB' }, template: 'q-{seq}.shoebox' })
  const ev2 = events(s2)
  await writeAll(s2, range(7).map((i) => rec(i)))
  t.same(ev2.sealed.map((e) => e.records), [2, 3, 2])
  t.equal(started.length, 3)
  checkSequence(t, dir2, range(7))
})

t.test('default names sort in write order (natural order), and reading in that order gives the written sequence', async (t) => {
  const dir = tempDir(t)
  const s = sink(dir, { roll: { records: 3 } })
  const ev = events(s)
  await writeAll(s, range(40).map((i) => rec(i)))
  t.equal(ev.sealed.length, 14)
  t.same(archiveNames(dir), ev.sealed.map((e) => path.basename(e.path)))
  t.ok(ev.sealed.every((e) => /^\d{8}T\d{12}Z-.+-\d+-\d{6}\.shoebox$/.test(path.basename(e.path))), 'default template')
  checkSequence(t, dir, range(40))
  checkClean(t, dir)
})

t.test("'sealed' fires after the final name exists and describes the file on disk", async (t) => {
  const dir = tempDir(t)
  let tick = Date.UTC(2024, 5, 1)
  const clockValues: number[] = []
  const s = sink(dir, {
    roll: { records: 4 },
    blockSize: 100,
    clock: () => { tick += 1000; clockValues.push(tick); return tick }
  })
  const ev = events(s)
  const checks: Array<{ exists: boolean, tempGone: boolean, bytes: number, sha256: string, records: number }> = []
  s.on('sealed', (e: SealedEvent) => {
    const data = fs.readFileSync(e.path)
    const opened = ev.opened.find((o) => o.name === path.basename(e.path))
    checks.push({
      exists: fs.existsSync(e.path),
      tempGone: opened !== undefined && !fs.existsSync(opened.path),
      bytes: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      records: decodeBytes(data).length
    })
  })
  await writeAll(s, range(10).map((i) => rec(i)))
  t.equal(ev.sealed.length, 3)
  t.equal(clockValues.length, 10, 'one clock reading per write')
  ev.sealed.forEach((e, i) => {
    t.ok(checks[i].exists, `file ${i} exists when 'sealed' fires`)
    t.ok(checks[i].tempGone, `file ${i}: its temporary name is gone`)
    t.equal(e.bytes, checks[i].bytes, 'bytes')
    t.equal(e.sha256, checks[i].sha256, 'sha256 of the bytes on disk')
    t.equal(e.records, checks[i].records, 'records')
    t.equal(e.firstAt, clockValues[i * 4], 'firstAt: the time of its first record')
    t.equal(e.lastAt, clockValues[Math.min(i * 4 + 3, 9)], 'lastAt: the time of its last record')
    t.equal(path.dirname(e.path), dir)
  })
  t.ok(ev.flushed.length > ev.sealed.length, 'several flushes')
  t.equal(ev.flushed[ev.flushed.length - 1].totalRecords, 10)
  t.equal(s.flushedRecords, 10)
})

t.test("sha256: false: 'sealed' has no sha256, and the files are the same bytes", async (t) => {
  const hashed = tempDir(t)
  const plain = tempDir(t)
  const records = range(10).map((i) => rec(i))
  const clock = (): number => Date.UTC(2024, 5, 1)
  const a = sink(hashed, { roll: { records: 4 }, compress: 'gzip', clock, template: 'f-{seq}.shoebox' })
  const b = sink(plain, { roll: { records: 4 }, compress: 'gzip', clock, template: 'f-{seq}.shoebox', sha256: false })
  const [evA, evB] = [events(a), events(b)]
  await writeAll(a, records)
  await writeAll(b, records)
  t.equal(evB.sealed.length, 3)
  t.ok(evA.sealed.every((e) => typeof e.sha256 === 'string' && e.sha256.length === 64), 'the default hashes every file')
  t.ok(evB.sealed.every((e) => !('sha256' in e)), 'no sha256 key at all with sha256: false')
  t.same(evB.sealed.map((e) => [path.basename(e.path), e.bytes, e.records]), evA.sealed.map((e) => [path.basename(e.path), e.bytes, e.records]))
  for (const e of evB.sealed) {
    t.ok(fs.readFileSync(e.path).equals(fs.readFileSync(path.join(hashed, path.basename(e.path)))), `${path.basename(e.path)}: the same bytes`)
  }
})

t.test('gzip: .gz names, one independent member per flush block, the members decompress to the whole archive', async (t) => {
  const dir = tempDir(t)
  const s = sink(dir, { gzip: true, blockSize: 512, roll: { records: 500 }, template: 'g-{seq}.shoebox' })
  const ev = events(s)
  const n = 2000
  const inputs = range(n).map((i) => rec(i))
  await writeAll(s, inputs)
  t.same(ev.sealed.map((e) => path.basename(e.path)), ['g-000000.shoebox.gz', 'g-000001.shoebox.gz', 'g-000002.shoebox.gz', 'g-000003.shoebox.gz'])
  const plainAll = encodeRecords(inputs)
  let offset = 0
  for (const e of ev.sealed) {
    const data = fs.readFileSync(e.path)
    const members = gzipMembers(data)
    t.ok(members.length > 1, `${path.basename(e.path)}: ${members.length} members`)
    const flushes = ev.flushed.filter((f) => path.basename(f.path).startsWith('.' + path.basename(e.path) + '~'))
    t.equal(members.length, flushes.length, 'one member per flush')
    const parts = members.map((m) => zlib.gunzipSync(m))
    t.ok(parts.every((p) => decodeBytes(p).length > 0), 'each member holds whole records on its own')
    const whole = zlib.gunzipSync(data)
    t.ok(Buffer.concat(parts).equals(whole), 'gunzipSync of the file = its members one after another')
    t.ok(whole.equals(plainAll.subarray(offset, offset + whole.length)), 'the same bytes as encoding the records plainly')
    offset += whole.length
  }
  t.equal(offset, plainAll.length)
  checkSequence(t, dir, range(n))
  checkClean(t, dir)
})

t.test('pre-encoded Buffers (encodeRecords(), encode()) are accepted and counted by record', async (t) => {
  const dir = tempDir(t)
  const s = sink(dir, { roll: { records: 3 }, template: 'b-{seq}.shoebox' })
  const ev = events(s)
  const items: Array<RecordInput | Buffer> = []
  for (let i = 0; i < 20; i += 2) items.push(encodeRecords([rec(i), rec(i + 1)]))
  items.push(rec(20))
  items.push(encodeRecords([rec(21), rec(22), rec(23), rec(24)], { format: 'v1' }))
  await writeAll(s, items)
  const counts = readDir(dir).files.map((f) => f.length)
  t.same(ev.sealed.map((e) => e.records), counts, 'sealed events count the records in each file')
  // A Buffer counts as the records it holds (two here), not as one: a file rolls at 3 records,
  // or at 4 when the roll can only fall between Buffers, never after three Buffers (6).
  t.ok(counts.length >= 6 && counts.slice(0, -1).every((n) => n === 3 || n === 4), `files of 3 or 4 records: ${counts.join(' ')}`)
  checkSequence(t, dir, range(25))

  const dir2 = tempDir(t)
  const s2 = sink(dir2, { roll: { records: 10 } })
  const ev2 = events(s2)
  await pipeline(Readable.from(range(35).map((i) => rec(i))), encode({ chunkSize: 64 }), s2)
  // encode() batches records into chunks as the event loop allows: a roll comes after the chunk that reaches 10.
  const counts2 = readDir(dir2).files.map((f) => f.length)
  t.same(ev2.sealed.map((e) => e.records), counts2, 'encode() piped in: sealed events count the records in each file')
  t.ok(counts2.length >= 2 && counts2.slice(0, -1).every((n) => n >= 10), `rolled by record count: ${counts2.join(' ')}`)
  checkSequence(t, dir2, range(35))
  checkClean(t, dir2)
})

t.test('encoded bytes are the sink\'s once written: a writer that fills the same buffer again after each callback loses nothing', async (t) => {
  // A reader with one buffer (fs.read into it, then write it) refills it once write() calls back,
  // while the sink still holds the bytes for the block it cuts later: they must be copied.
  const dir = tempDir(t)
  const s = sink(dir)
  const one = encodeRecords([rec(0)])
  const reused = Buffer.alloc(one.length)
  for (let i = 0; i < 5; i++) {
    encodeRecords([rec(i)]).copy(reused)
    await writeOne(s, reused)
  }
  // A Uint8Array (what Readable.fromWeb() gives) is bytes too, not a record with keys "0", "1"...
  const view = new Uint8Array(encodeRecords([rec(5), rec(6)]))
  await writeOne(s, view)
  view.fill(0)
  s.end()
  await finished(s)
  checkSequence(t, dir, range(7))
})

t.test('a Buffer holding a partial record is rejected (SHOEBOX_INVALID_RECORD)', async (t) => {
  const whole = encodeRecords([rec(0), rec(1)])
  for (const cut of [1, 5, whole.length - 1]) {
    const dir = tempDir(t)
    // blockSize 1: the first record is on disk (its flush event) before the partial Buffer comes.
    const s = sink(dir, { blockSize: 1 })
    s.write(rec(100))
    await once(s, 'flush')
    s.write(whole.subarray(0, cut))
    s.end()
    await t.rejects(finished(s), { code: 'SHOEBOX_INVALID_RECORD' }, `cut at ${cut}`)
    t.same(archiveNames(dir), [], 'nothing sealed')
    const left = fs.readdirSync(dir)
    t.equal(left.length, 1, 'the temporary file with the record before it is there')
    t.same(left.map((name) => decodeFile(path.join(dir, name)).map((d) => seqOf(d.record))), [[100]], 'it holds whole records only: the one before the partial Buffer')
  }
})

t.test('a template without {seq} never overwrites: colliding names get alternatives', async (t) => {
  for (const gzip of [false, true]) {
    const dir = tempDir(t)
    const ext = gzip ? '.shoebox.gz' : '.shoebox'
    // A file from an earlier run already has the name.
    const earlier = encodeRecords([{ payload: { earlier: true } }])
    fs.writeFileSync(path.join(dir, 'fixed' + ext), earlier)
    const s = sink(dir, { template: 'fixed.shoebox', roll: { records: 10 }, gzip })
    const ev = events(s)
    await writeAll(s, range(125).map((i) => rec(i)))
    t.equal(ev.sealed.length, 13)
    t.same(ev.sealed.map((e) => path.basename(e.path)), range(13, 1).map((i) => `fixed_${i}${ext}`), `${ext}: alternatives in order`)
    t.ok(fs.readFileSync(path.join(dir, 'fixed' + ext)).equals(earlier), 'the existing file is untouched')
    const back = readDir(dir)
    t.equal(back.names[0], 'fixed' + ext)
    t.equal(back.names[back.names.length - 1], `fixed_13${ext}`, 'natural order puts _13 last')
    t.same(back.records.slice(1).map(seqOf), range(125), 'every record survives, in write order')
    checkClean(t, dir)
  }
})

t.test('bad options throw SHOEBOX_INVALID_OPTION at construction', async (t) => {
  const base = tempDir(t)
  const dir = path.join(base, 'never-created')
  const bad: Array<[string, unknown]> = [
    ['no options', undefined],
    ['no dir', {}],
    ['empty dir', { dir: '' }],
    ['dir not a string', { dir: 42 }],
    ['bad fsync', { dir, fsync: 'sometimes' }],
    ['template field %Q', { dir, template: 'x-%Q.shoebox' }],
    ['template token {nope}', { dir, template: 'x-{nope}.shoebox' }],
    ['template with a lone %', { dir, template: 'x-%' }],
    ['empty template', { dir, template: '' }],
    ['roll size 0', { dir, roll: { size: 0 } }],
    ['roll size -1', { dir, roll: { size: -1 } }],
    ['roll size lots', { dir, roll: { size: 'lots' } }],
    ['roll size 12 parsecs', { dir, roll: { size: '12 parsecs' } }],
    ['roll records 0', { dir, roll: { records: 0 } }],
    ['roll records 1.5', { dir, roll: { records: 1.5 } }],
    ['roll age 0', { dir, roll: { age: 0 } }],
    ['roll age soon', { dir, roll: { age: 'soon' } }],
    ['policy without check', { dir, roll: { policy: {} } }],
    ['gzip level 12', { dir, gzip: { level: 12 } }],
    ['flushInterval -5', { dir, flushInterval: -5 }],
    ['blockSize big', { dir, blockSize: 'big' }],
    ['sha256 yes', { dir, sha256: 'yes' }],
    ['format v3', { dir, format: 'v3' }]
  ]
  for (const [what, options] of bad) {
    let code: unknown = 'no error'
    try {
      rollingSink(options as RollingSinkOptions)
    } catch (err) {
      code = err instanceof ShoeboxError ? err.code : err
    }
    t.equal(code, 'SHOEBOX_INVALID_OPTION', what)
  }
  t.notOk(fs.existsSync(dir), 'no directory created by a rejected sink')
})

t.test('rolling-sink.ts\'s own factory refuses `upload` without the uploader handed in (the package\'s rollingSink() hands it)', async (t) => {
  const dir = path.join(tempDir(t), 'never-created')
  t.throws(() => makeRollingSink({ dir, upload: { to: path.join(dir, 'store') } }), { code: 'SHOEBOX_INVALID_OPTION', message: /upload/ })
  t.notOk(fs.existsSync(dir), 'no directory created')
})

t.test('a full sink holds two writes beyond maxPending, however large they are', async (t) => {
  // Its queue counts writes, not bytes: each of `shoebox write`'s is an encoded chunk in an encoder's slab, and
  // 16 of them waiting (the queue it had) made the encoder take fresh slabs at every seal.
  const dir = tempDir(t)
  const s = rollingSink({ dir, flushInterval: 0, blockSize: '64KiB', maxPending: '128KiB' })
  await s.started()
  const chunk = encodeRecords(range(4000).map((i) => rec(i)))
  t.ok(chunk.length > 128 * 1024, 'one chunk fills the sink')
  let writes = 1
  while (s.write(chunk) && writes < 100) writes++
  t.equal(writes, 2, 'the second write waits')
  t.equal(s.writableLength, 2)
  s.end()
  await finished(s)
  t.equal(readDir(dir).records.length, 2 * 4000, 'both written')
})

t.test('fsync never, onClose, interval and always all produce correct files, syncing as they say', async (t) => {
  // Counts of FileHandle.sync() calls (files and the directory) for each mode.
  const syncs = await countSyncs(t)

  for (const fsync of ['never', 'onClose', 'interval', 'always'] as const) {
    const dir = tempDir(t)
    syncs.reset()
    const s = rollingSink({ dir, fsync, roll: { records: 100 }, flushInterval: 10, blockSize: '1MiB' })
    const ev = events(s)
    for (const i of range(300)) {
      if (!s.write(rec(i))) await once(s, 'drain')
      if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 25))
    }
    await writeAll(s, [])
    t.same(ev.sealed.map((e) => e.records), [100, 100, 100], `${fsync}: three files of 100`)
    checkSequence(t, dir, range(300))
    checkClean(t, dir)
    const files = ev.sealed.length
    const flushes = ev.flushed.length
    t.ok(flushes > files, `${fsync}: timed flushes happened (${flushes})`)
    if (fsync === 'never') t.equal(syncs.count(), 0, 'never: no fsync')
    if (fsync === 'onClose') t.equal(syncs.count(), 2 * files, 'onClose: file and directory at each seal')
    // always: after every block, then the file and the directory at each seal.
    if (fsync === 'always') t.ok(syncs.count() >= flushes + 2 * files && syncs.count() <= flushes + 3 * files, `always: after every block (${syncs.count()})`)
    if (fsync === 'interval') t.ok(syncs.count() > 2 * files && syncs.count() <= flushes + 2 * files, `interval: after timed flushes (${syncs.count()})`)
  }
})

t.test('a filesystem error mid-write surfaces as a stream error; sealed files stay intact', async (t) => {
  const base = tempDir(t)
  const dir = path.join(base, 'out')
  const moved = path.join(base, 'moved')
  // blockSize 1: every record is its own flush block, on disk at once.
  const s = rollingSink({ dir, roll: { records: 10 }, flushInterval: 0, blockSize: 1, template: 'e-{seq}.shoebox' })
  const ev = events(s)
  for (const i of range(35)) s.write(rec(i))
  await within((async () => { while (s.flushedRecords < 35) await once(s, 'flush') })(), 10_000, '35 records on disk')
  t.equal(ev.sealed.length, 3, 'three files sealed, the fourth is being written')
  // The directory goes away (renamed) and a file takes its place.
  fs.renameSync(dir, moved)
  fs.writeFileSync(dir, 'not a directory')
  const errored = once(s, 'error') as Promise<[ShoeboxError]>
  for (const i of range(10, 35)) s.write(rec(i))
  s.end()
  const [err] = await within(errored, 10_000, 'the error')
  t.equal(err.code, 'SHOEBOX_IO', 'the filesystem error surfaces as SHOEBOX_IO')
  t.equal((err.cause as NodeJS.ErrnoException).code, 'ENOTDIR', 'with the errno error as its cause')
  t.match(err.message, /^cannot \w+ .*e-000003\.shoebox~.*\.part: not a directory \(ENOTDIR\)$/, 'naming the file')
  t.same(s.kept(), { dir, started: true, sealedFiles: 3, sealedRecords: 30, unsealed: { path: ev.opened[3].path, records: 10, inPart: 0 } }, 'kept() says what is on disk')
  t.ok(s.destroyed, 'the sink is destroyed')
  t.equal(ev.sealed.length, 3, 'nothing sealed after the error')
  // The sealed files are intact.
  const sealedNames = ev.sealed.map((e) => path.basename(e.path))
  t.same(archiveNames(moved), sealedNames)
  t.same(ev.sealed.filter((e) => {
    const data = fs.readFileSync(path.join(moved, path.basename(e.path)))
    return createHash('sha256').update(data).digest('hex') !== e.sha256
  }), [], 'every sealed file has the bytes it was sealed with')
  t.same(readDir(moved).records.map(seqOf), range(30))
  // So is the file that could not be sealed: this process holds it, hence force.
  t.equal(s.flushedRecords, 40, 'the fourth file was filled before sealing it failed')
  const recovered = await recoverDirectory(moved, { force: true })
  t.same(recovered.map((r) => ({ records: r.records, bytesDropped: r.bytesDropped, damaged: r.damaged })),
    [{ records: 10, bytesDropped: 0, damaged: false }], 'the unsealed file is recovered whole')
  t.same(readDir(moved).records.map(seqOf), range(40), 'everything flushed is there, in order')
})

t.test('a directory under a file fails the stream at start', async (t) => {
  const base = tempDir(t)
  const file = path.join(base, 'file')
  fs.writeFileSync(file, 'x')
  const s = rollingSink({ dir: path.join(file, 'sub') })
  s.write(rec(0))
  s.end()
  await t.rejects(finished(s), { code: 'SHOEBOX_IO', message: `cannot create directory ${path.join(file, 'sub')}: a file is in the way (ENOTDIR)` })
  t.equal(s.kept().started, false, 'it never started')
})
