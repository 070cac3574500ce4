/**
 * file-chain.ts flushes a file to the disk as it grows (a datasync per 4 MiB
 * written, not awaited), so that the fsync at its seal has little left to do.
 * These count the datasyncs each fsync policy makes (on the FileHandle
 * prototype, as countSyncs counts syncs), and check that the files are whole.
 */
import fs from 'node:fs'
import t from 'tap'
import { rollingSink, type RecordInput, type SealedEvent } from '../../lib/index.js'
import { readDir, seqOf, tempDir, tempNames, writeAll, range } from '../fixtures-roll/util.js'

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

/** FileHandle's prototype, to wrap its datasync and sync for one test. */
async function handleProto (t: Parameters<typeof tempDir>[0]): Promise<{ datasync: () => Promise<void>, sync: () => Promise<void> }> {
  const probe = await fs.promises.open(tempDir(t), 'r')
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void>, sync: () => Promise<void> }
  await probe.close()
  const { datasync, sync } = proto
  t.teardown(() => { proto.datasync = datasync; proto.sync = sync })
  return proto
}

t.test('a seal fsyncs beside the datasync still under way, not after it', async (t) => {
  // Each datasync is held until an fsync of the same file has started: a seal that waited for the datasync
  // first would wait forever (the test then fails on its timeout).
  t.setTimeout(15000)
  const proto = await handleProto(t)
  const { datasync, sync } = proto
  // Held from the call on (not from when the real datasync returns: a seal may call sync before that).
  const held = new Map<unknown, Array<() => void>>()
  let overlapped = 0
  proto.datasync = function (this: unknown) {
    const gate = new Promise<void>((resolve) => { held.set(this, [...(held.get(this) ?? []), resolve]) })
    return datasync.call(this).then(async () => { await gate })
  }
  proto.sync = function (this: unknown) {
    const releases = held.get(this)
    if (releases !== undefined) {
      overlapped++
      held.delete(this)
      for (const release of releases) release()
    }
    return sync.call(this)
  }
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0, roll: { records: 500 } })
  const sealed: SealedEvent[] = []
  sink.on('sealed', (e: SealedEvent) => sealed.push(e))
  await writeAll(sink, range(1000).map(rec))
  t.same(sealed.map((e) => e.records), [500, 500])
  t.ok(overlapped >= 1, `${overlapped} seals fsynced while a datasync was under way`)
  t.same(readDir(dir).records.map(seqOf), range(1000), 'every record, in order')
})

t.test('a datasync that fails while the seal fsyncs beside it fails the seal: the file stays unsealed', async (t) => {
  const proto = await handleProto(t)
  const { datasync } = proto
  let failed = 0
  proto.datasync = function (this: unknown) {
    failed++
    return datasync.call(this).then(() => { throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }) })
  }
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  const sealed: SealedEvent[] = []
  sink.on('sealed', (e: SealedEvent) => sealed.push(e))
  const err = await writeAll(sink, range(1000).map(rec)).then(() => null, (e: Error & { code?: string }) => e)
  t.ok(failed >= 1, 'a datasync was made')
  t.match(err, { code: 'SHOEBOX_IO', message: /cannot fsync/ })
  t.same(sealed, [], 'nothing sealed')
  t.equal(tempNames(dir).length, 1, 'the file is left for recovery')
})
