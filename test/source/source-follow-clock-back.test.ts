/**
 * Following from a saved position, a file that appears after the follow
 * began is read even when its name sorts before the position's file: a
 * writer whose wall clock stepped back (NTP, a resumed VM) names its next
 * files (time first, as the default template does) before those it wrote
 * already. Only the files of the first listing ordered before the
 * position's file were read before it was saved; such a later file was
 * skipped, silently, for good.
 */
import fs from 'node:fs'
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
