/**
 * Following: a file that changes after it was read (it grew) is read again
 * from its last delivered record (a plain file from that record's offset, a
 * gzip file from that record's member), not decoded again from its start.
 * Proved by the bytes the file store read (source.stats()), not by time; and
 * every record comes exactly once, in order. Each file state appears whole
 * (written beside, then renamed into place), so the reads are the same on
 * every run.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t, { type Test } from 'tap'
import { archiveSource, encodeRecords, type Position, type ShoeboxRecord } from '../../lib/index.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-follow-resume-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const COUNT = 2000
const HALF = 1000
const payloads = Array.from({ length: COUNT }, (_, i) => `{"n":${i},"text":"${'ü'.repeat(i % 37)}"}`)
const plain = encodeRecords(payloads.map((payload) => ({ payload })))

/** Offsets of every record in `plain` (from a read with positions). */
async function offsets (): Promise<number[]> {
  const dir = fs.mkdtempSync(path.join(tmp, 'o-'))
  fs.writeFileSync(path.join(dir, 'all.shoebox'), plain)
  const records = await archiveSource(path.join(dir, '*'), { positions: true }).toArray() as ShoeboxRecord[]
  return records.map((r) => (r.position as Position).offset)
}

/** Put `bytes` at `file` whole: written beside it under a name the pattern does not match, then renamed. */
function place (file: string, bytes: Buffer, old: boolean): void {
  fs.writeFileSync(`${file}.tmp`, bytes)
  // An old mtime: the first state is stable at once; a new one: the change is seen.
  if (old) fs.utimesSync(`${file}.tmp`, new Date(Date.now() - 60000), new Date(Date.now() - 60000))
  fs.renameSync(`${file}.tmp`, file)
}

async function followGrowing (t: Test, name: string, first: Buffer, whole: Buffer): Promise<{ payloads: string[], bytesRead: number, reads: number }> {
  const dir = fs.mkdtempSync(path.join(tmp, 'd-'))
  const file = path.join(dir, name)
  place(file, first, true)
  const source = archiveSource(path.join(dir, '*.shoebox*'), { follow: true, pollInterval: 20 })
  let reads = 0
  source.on('file', () => { reads++ })
  const seen: string[] = []
  const error = await new Promise<unknown>((resolve) => {
    source.on('data', (record: ShoeboxRecord) => {
      seen.push(record.payload.toString())
      // The first state delivered: the file grows (a new whole state; its first bytes are the old ones).
      if (seen.length === HALF) place(file, whole, false)
      if (seen.length === COUNT) source.stop()
    })
    source.once('end', () => { resolve(null) })
    source.once('error', resolve)
  })
  t.equal(error, null)
  return { payloads: seen, bytesRead: source.stats().downloaded.bytes, reads }
}

t.test('plain: the grown file is read from the last delivered record on', async (t) => {
  const at = await offsets()
  const cut = at[HALF] // the first state ends after record HALF - 1
  const got = await followGrowing(t, 'grows.shoebox', plain.subarray(0, cut), plain)
  t.same(got.payloads, payloads, 'every record once, in order')
  t.equal(got.reads, 2, 'read twice')
  t.equal(got.bytesRead, cut + (plain.length - at[HALF - 1]), `read ${cut} bytes, then from byte ${at[HALF - 1]} (the last record delivered) on, not from 0`)
})

t.test('gzip: the grown file is read from the last delivered record\'s member on', async (t) => {
  const at = await offsets()
  // Members of 100 records each, as a rolling sink writes them; the file grows by whole members.
  const members: Buffer[] = []
  for (let i = 0; i < COUNT; i += 100) members.push(zlib.gzipSync(plain.subarray(at[i], i + 100 < COUNT ? at[i + 100] : plain.length)))
  const first = Buffer.concat(members.slice(0, HALF / 100))
  const whole = Buffer.concat(members)
  const lastMember = first.length - members[HALF / 100 - 1].length
  const got = await followGrowing(t, 'grows.shoebox.gz', first, whole)
  t.same(got.payloads, payloads, 'every record once, in order')
  t.equal(got.reads, 2, 'read twice')
  t.equal(got.bytesRead, first.length + (whole.length - lastMember), `read ${first.length} bytes, then from the last delivered record's member (compressed byte ${lastMember}) on, not from 0`)
})

/**
 * A followed file replaced under its name by another, longer one: the new
 * file is read whole. The replacement's records have the lengths of the old
 * ones, so the old resume point is a record boundary in it too: resuming
 * there would skip the new file's first records without a word.
 */
async function followReplaced (t: Test, name: string, first: Buffer, second: Buffer, total: number): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(tmp, 'r-'))
  const file = path.join(dir, name)
  place(file, first, true)
  const source = archiveSource(path.join(dir, '*.shoebox*'), { follow: true, pollInterval: 20 })
  const seen: string[] = []
  const error = await new Promise<unknown>((resolve) => {
    source.on('data', (record: ShoeboxRecord) => {
      seen.push(record.payload.toString())
      if (seen.length === HALF) place(file, second, false)
      if (seen.length === total) source.stop()
    })
    source.once('end', () => { resolve(null) })
    source.once('error', resolve)
  })
  t.equal(error, null)
  return seen
}

const others = payloads.map((p) => p.replace('"n"', '"m"'))
const otherPlain = encodeRecords(others.map((payload) => ({ payload })))

t.test('plain: a file replaced by a longer one is read whole, not from the old resume point', async (t) => {
  const at = await offsets()
  t.equal(otherPlain.length, plain.length, 'the replacement lines up with the old file record for record')
  const seen = await followReplaced(t, 'replaced.shoebox', plain.subarray(0, at[HALF]), otherPlain, HALF + COUNT)
  t.same(seen.slice(0, HALF), payloads.slice(0, HALF), 'the first file\'s records')
  t.same(seen.slice(HALF), others, 'then every record of the file that replaced it, from its first')
})

t.test('gzip: a file replaced by a longer one is read whole, not from the old resume member', async (t) => {
  const at = await offsets()
  const gzipIn = (bytes: Buffer): Buffer[] => {
    const members: Buffer[] = []
    for (let i = 0; i < COUNT; i += 100) members.push(zlib.gzipSync(bytes.subarray(at[i], i + 100 < COUNT ? at[i + 100] : bytes.length)))
    return members
  }
  const first = Buffer.concat(gzipIn(plain).slice(0, HALF / 100))
  const seen = await followReplaced(t, 'replaced.shoebox.gz', first, Buffer.concat(gzipIn(otherPlain)), HALF + COUNT)
  t.same(seen.slice(0, HALF), payloads.slice(0, HALF), 'the first file\'s records')
  t.same(seen.slice(HALF), others, 'then every record of the file that replaced it, from its first')
})
