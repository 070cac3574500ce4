/**
 * file-chain.ts flushes a file to the disk as it grows (a datasync per 4 MiB
 * written, not awaited), so that the fsync at its seal has little left to do.
 * These count the datasyncs each fsync policy makes (on the FileHandle
 * prototype, as countSyncs counts syncs), and check that the files are whole.
 */
import fs from 'node:fs'
import t from 'tap'
import { rollingSink, type RecordInput, type SealedEvent } from '../../lib/index.js'
import { readDir, seqOf, tempDir, writeAll, range } from '../fixtures-roll/util.js'

async function countDatasyncs (t: Parameters<typeof tempDir>[0]): Promise<() => number> {
  const probe = await fs.promises.open(tempDir(t), 'r')
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
  await probe.close()
  const original = proto.datasync
  let calls = 0
  proto.datasync = function (this: unknown) { calls++; return original.call(this) }
  t.teardown(() => { proto.datasync = original })
  return () => calls
}

/** About 16 KiB each: 1,000 records are ~16 MiB, four 4 MiB steps in each of two files. */
const rec = (seq: number): RecordInput => ({ metadata: {}, payload: { seq, pad: 'p'.repeat(16 * 1024) } })

for (const fsync of ['never', 'onClose', 'interval', 'always'] as const) {
  t.test(`fsync ${fsync}: datasyncs while a file grows only where a seal will fsync anyway`, async (t) => {
    const datasyncs = await countDatasyncs(t)
    const dir = tempDir(t)
    const sink = rollingSink({ dir, fsync, flushInterval: 0, roll: { records: 500 } })
    const sealed: SealedEvent[] = []
    sink.on('sealed', (e: SealedEvent) => sealed.push(e))
    await writeAll(sink, range(1000).map(rec))
    t.same(sealed.map((e) => e.records), [500, 500])
    // onClose, interval: about one per 4 MiB of each ~8 MiB file. always syncs every block itself; never, never.
    if (fsync === 'onClose' || fsync === 'interval') t.ok(datasyncs() >= 2 && datasyncs() <= 4, `${fsync}: ${datasyncs()} datasyncs as the files grew`)
    else t.equal(datasyncs(), 0, `${fsync}: none`)
    t.same(readDir(dir).records.map(seqOf), range(1000), 'every record, in order')
  })
}
