/**
 * Lenient following of a file with damage before its growing tail: a file
 * that ends in a damaged stretch may still be growing (the record after
 * the damage is being written), so the stretch is not reported until the
 * file is read again past it, and then once, with its real length; it was
 * reported at once, swallowing the start of the record being written, and
 * again when the file grew (read again from the record before the damage).
 * A file a shoebox writer sealed cannot grow: its damage is reported at
 * once. Waits on the follower's listings (fsp.readdir) and records, none timed.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t, { type Test } from 'tap'
import { archiveSource, encodeRecords, type ArchiveSource, type ShoeboxRecord, type SourceCorruptEvent } from '../../lib/index.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-follow-damage-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const record = (payload: string): Buffer => encodeRecords([{ metadata: { k: 'v' }, payload }])
const GARBAGE = Buffer.from('GARBAGE-GARBAGE-GARBAGE')

interface Follower {
  source: ArchiveSource
  seen: string[]
  corrupt: Array<{ offset: number, reason: string, bytesSkipped: number }>
  /** Resolves once `n` records came; false if `listings` more listings passed first (or the stream failed). */
  until: (n: number, listings?: number) => Promise<boolean>
  /** Resolves once `n` more listings of the directory have begun: the first ended after this call. */
  listings: (n: number) => Promise<void>
}

/** Follow `pattern` (lenient, 10 ms polls), counting the listings of `dir` through fsp.readdir. */
function follow (t: Test, dir: string, pattern: string): Follower {
  const readdir = fsp.readdir
  let count = 0
  const wakers = new Set<() => void>()
  const wake = (): void => { for (const w of [...wakers]) w() }
  fsp.readdir = (async (where: fs.PathLike, ...rest: unknown[]) => {
    if (String(where) === dir) {
      count++
      wake()
    }
    return await (readdir as (...args: unknown[]) => Promise<unknown>)(where, ...rest)
  }) as typeof fsp.readdir
  t.teardown(() => { fsp.readdir = readdir })
  const source = archiveSource(pattern, { follow: true, pollInterval: 10, mode: 'lenient' })
  t.teardown(() => { source.destroy() })
  const seen: string[] = []
  const corrupt: Follower['corrupt'] = []
  let failed = false
  source.on('data', (r: ShoeboxRecord) => { seen.push(r.payload.toString()); wake() })
  source.on('corrupt', (e: SourceCorruptEvent) => { corrupt.push({ offset: e.offset, reason: e.reason, bytesSkipped: e.bytesSkipped }) })
  source.on('error', () => { failed = true; wake() })
  const next = async (): Promise<void> => { await new Promise<void>((resolve) => { const w = (): void => { wakers.delete(w); resolve() }; wakers.add(w) }) }
  return {
    source,
    seen,
    corrupt,
    listings: async (n) => {
      const target = count + n
      while (count < target) await next()
    },
    until: async (n, listings = 50) => {
      const limit = count + listings
      while (seen.length < n && count < limit && !failed) await next()
      return seen.length >= n
    }
  }
}

for (const gzip of [false, true]) {
  const kind = gzip ? 'gzip' : 'plain'
  const pack = (bytes: Buffer): Buffer => gzip ? zlib.gzipSync(bytes) : bytes
  t.test(`${kind}: damage before a record still being written is reported once, when the record is there, with its own length`, async (t) => {
    const dir = fs.mkdtempSync(path.join(tmp, 'd-'))
    const file = path.join(dir, gzip ? 'a.shoebox.gz' : 'a.shoebox')
    const r1 = record('r1')
    // Copied in long ago: read at once. Its last record is still being written after the damage.
    fs.writeFileSync(file, pack(Buffer.concat([record('r0'), GARBAGE, r1.subarray(0, 10)])))
    fs.utimesSync(file, new Date(Date.now() - 60000), new Date(Date.now() - 60000))
    const f = follow(t, dir, path.join(dir, gzip ? '*.shoebox.gz' : '*.shoebox'))
    t.ok(await f.until(1))
    await f.listings(2) // the read that gave r0 is over
    // The rest of r1, then r2: plain appended, gzip as the file rewritten whole (one member), as a copier would.
    const grown = Buffer.concat([record('r0'), GARBAGE, r1])
    fs.writeFileSync(file, pack(grown))
    t.ok(await f.until(2), 'r1 read once whole')
    fs.writeFileSync(file, pack(Buffer.concat([grown, record('r2')])))
    t.ok(await f.until(3), 'r2 read')
    await f.listings(2)
    t.same(f.seen, ['r0', 'r1', 'r2'])
    t.same(f.corrupt, [{ offset: record('r0').length, reason: 'bad-magic', bytesSkipped: GARBAGE.length }], 'the damage, once, its own length')
  })
}

t.test('a sealed file that ends in damage cannot grow: the damage is reported at once', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'd-'))
  const f = follow(t, dir, path.join(dir, '*.shoebox'))
  const temp = path.join(dir, '.s.shoebox~host~4242.part')
  fs.writeFileSync(temp, Buffer.concat([record('r0'), GARBAGE]))
  await f.listings(2) // a listing saw the temporary file
  fs.linkSync(temp, path.join(dir, 's.shoebox'))
  fs.unlinkSync(temp)
  t.ok(await f.until(1))
  await f.listings(2)
  t.same(f.corrupt, [{ offset: record('r0').length, reason: 'bad-magic', bytesSkipped: GARBAGE.length }])
})
