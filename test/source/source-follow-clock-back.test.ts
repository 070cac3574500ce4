/**
 * Following from a saved position, a file that appears after the follow
 * began is read even when its name sorts before the position's file: a
 * writer whose wall clock stepped back (NTP, a resumed VM) names its next
 * files (time first, as the default template does) before those it wrote
 * already. Only the files of the first listing ordered before the
 * position's file were read before it was saved; such a later file was
 * skipped, silently, for good. So was one that came under the name of such
 * a file deleted before its turn came.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { archiveSource, encodeRecords, type Position, type ShoeboxRecord } from '../../lib/index.js'

function place (file: string, payloads: string[]): void {
  fs.writeFileSync(`${file}.tmp`, encodeRecords(payloads.map((payload) => ({ payload }))))
  // Old enough to count as stable at once (the follow gate).
  const old = new Date(Date.now() - 60_000)
  fs.utimesSync(`${file}.tmp`, old, old)
  fs.renameSync(`${file}.tmp`, file)
}

t.test('a file named before the position but listed after the follow began is read', async (t) => {
  const dir = t.testdir()
  place(path.join(dir, '20261207T110000000000Z-h-1-000001.shoebox'), ['a1', 'a2'])
  place(path.join(dir, '20261207T120000000000Z-h-1-000002.shoebox'), ['b1', 'b2'])
  // Read up to b1 before: the position of b1.
  const before = await archiveSource(path.join(dir, '*.shoebox'), { positions: true }).toArray() as ShoeboxRecord[]
  const from = before.find((r) => r.payload.toString() === 'b1')?.position as Position

  const source = archiveSource(path.join(dir, '*.shoebox'), { follow: true, pollInterval: 20, from })
  const seen: string[] = []
  const done = new Promise<unknown>((resolve) => {
    source.on('data', (record: ShoeboxRecord) => {
      seen.push(record.payload.toString())
      // The writer's clock stepped back an hour: its next file is named before both.
      if (seen.length === 1) place(path.join(dir, '20261207T105959000000Z-h-1-000003.shoebox'), ['c1'])
      if (seen.includes('c1') || seen.length > 3) source.stop()
    })
    source.once('end', () => { resolve(null) })
    source.once('error', resolve)
  })
  // Without the fix c1 never comes and the follow goes on for ever: stopped after ~200 polls' worth instead.
  let polls = 0
  const timer = setInterval(() => { if (++polls > 200) source.stop() }, 20)
  t.teardown(() => { clearInterval(timer) })
  t.equal(await done, null)
  t.same(seen, ['b2', 'c1'], 'after b1: b2, then the file the stepped-back clock named (a1, read before the position, is not)')
})

t.test('a file before the position that goes before its turn is forgotten: a new file under its name is read', async (t) => {
  const dir = t.testdir()
  place(path.join(dir, 'f-2.shoebox'), ['b1', 'b2'])
  const before = await archiveSource(path.join(dir, '*.shoebox'), { positions: true }).toArray() as ShoeboxRecord[]
  const from = before.find((r) => r.payload.toString() === 'b1')?.position as Position
  // Read before the position was saved, but written a moment ago: the first listing waits for it to be stable.
  const early = path.join(dir, 'f-1.shoebox')
  fs.writeFileSync(early, encodeRecords([{ payload: 'a1' }]))
  // Deleted (an uploader's --delete-local) as the second listing starts, before its turn came.
  const readdir = fsp.readdir
  let listings = 0
  let listed: () => void = () => {}
  fsp.readdir = (async (where: fs.PathLike, ...rest: unknown[]) => {
    if (String(where) === dir && ++listings === 2) fs.unlinkSync(early)
    listed()
    return await (readdir as (...args: unknown[]) => Promise<unknown>)(where, ...rest)
  }) as typeof fsp.readdir
  t.teardown(() => { fsp.readdir = readdir })
  const untilListing = async (n: number): Promise<void> => {
    while (listings < n) await new Promise<void>((resolve) => { listed = resolve })
  }
  const source = archiveSource(path.join(dir, '*.shoebox'), { follow: true, pollInterval: 20, from })
  t.teardown(() => { source.destroy() })
  const seen: string[] = []
  source.on('data', (record: ShoeboxRecord) => { seen.push(record.payload.toString()) })
  await untilListing(3) // the second listing, without it, is over
  // A new file comes under the name: read, as any file listed after the first listing.
  place(early, ['c1'])
  const now = listings
  while (!seen.includes('c1') && listings < now + 20) await untilListing(listings + 1)
  t.same(seen, ['b2', 'c1'])
})
