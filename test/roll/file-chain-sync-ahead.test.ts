/**
 * file-chain.ts pushes a file to the disk as it grows (a writeback started per
 * 4 MiB written, not awaited: fs/writeback.ts, sync_file_range through the
 * addon where built, else a datasync), so that the fsync at its seal has
 * little left to do. These count the writebacks each fsync policy starts, and
 * check that the files are whole, that a seal does not wait for a writeback
 * before its fsync, and that a failed writeback fails the seal.
 */
import fs from 'node:fs'
import t, { type Test } from 'tap'
import { rollingSink, type RecordInput, type SealedEvent } from '../../lib/index.js'
import { loadNativeWriteback } from '../../lib/native.js'
import { readDir, seqOf, tempDir, tempNames, writeAll, range } from '../fixtures-roll/util.js'

/** FileHandle's prototype, to wrap its datasync and sync for one test. */
async function handleProto (t: Test): Promise<{ datasync: () => Promise<void>, sync: () => Promise<void> }> {
  const probe = await fs.promises.open(tempDir(t), 'r')
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void>, sync: () => Promise<void> }
  await probe.close()
  const { datasync, sync } = proto
  t.teardown(() => { proto.datasync = datasync; proto.sync = sync })
  return proto
}

/**
 * Put `around` around every writeback started for one test: the addon's
 * startWriteback where it is built (writeback.ts looks the function up on
 * the addon at each call), else FileHandle's datasync. `around` gets the
 * call to make, the file's descriptor, and the range (the addon's only).
 */
async function aroundWritebacks (t: Test, around: (start: () => Promise<void>, fd: number, range?: [number, number]) => Promise<void>): Promise<void> {
  const addon = loadNativeWriteback()
  if (addon !== null) {
    const original = addon.startWriteback
    addon.startWriteback = async (fd, offset, length) => { await around(async () => { await original.call(addon, fd, offset, length) }, fd, [offset, length]) }
    t.teardown(() => { addon.startWriteback = original })
    return
  }
  const proto = await handleProto(t)
  const { datasync } = proto
  proto.datasync = function (this: { fd: number }) { return around(async () => { await datasync.call(this) }, this.fd) }
}

/** Count the writebacks started; where the addon's, check that each file's ranges follow on from 0 (4 MiB or more each). */
async function countWritebacks (t: Test): Promise<() => number> {
  let calls = 0
  const next = new Map<number, number>()
  await aroundWritebacks(t, async (start, fd, range) => {
    calls++
    if (range !== undefined) {
      const [offset, length] = range
      // A descriptor is used again by the next file, whose first range starts at 0.
      if ((offset !== 0 && offset !== next.get(fd)) || length < 4 * 1024 * 1024) t.fail(`writeback of [${offset}, +${length}) where ${next.get(fd) ?? 0} was next`)
      next.set(fd, offset + length)
    }
    await start()
  })
  return () => calls
}

/** About 16 KiB each: 1,000 records are ~16 MiB, four 4 MiB steps in each of two files. */
const rec = (seq: number): RecordInput => ({ metadata: {}, payload: { seq, pad: 'p'.repeat(16 * 1024) } })

for (const fsync of ['never', 'onClose', 'interval', 'always'] as const) {
  t.test(`fsync ${fsync}: writebacks while a file grows only where a seal will fsync anyway`, async (t) => {
    const writebacks = await countWritebacks(t)
    const dir = tempDir(t)
    const sink = rollingSink({ dir, fsync, flushInterval: 0, roll: { records: 500 } })
    const sealed: SealedEvent[] = []
    sink.on('sealed', (e: SealedEvent) => sealed.push(e))
    await writeAll(sink, range(1000).map(rec))
    t.same(sealed.map((e) => e.records), [500, 500])
    // onClose, interval: about one per 4 MiB of each ~8 MiB file. always syncs every block itself; never, never.
    if (fsync === 'onClose' || fsync === 'interval') t.ok(writebacks() >= 2 && writebacks() <= 4, `${fsync}: ${writebacks()} writebacks as the files grew`)
    else t.equal(writebacks(), 0, `${fsync}: none`)
    t.same(readDir(dir).records.map(seqOf), range(1000), 'every record, in order')
  })
}

t.test('a seal fsyncs beside the writeback still under way, not after it', async (t) => {
  // Each writeback is held until an fsync of the same file has started: a seal that waited for the writeback
  // first would wait forever (the test then fails on its timeout).
  t.setTimeout(15000)
  // Held from the call on (not from when the real writeback returns: a seal may call sync before that).
  const held = new Map<number, Array<() => void>>()
  let overlapped = 0
  await aroundWritebacks(t, async (start, fd) => {
    const gate = new Promise<void>((resolve) => { held.set(fd, [...(held.get(fd) ?? []), resolve]) })
    await start()
    await gate
  })
  const proto = await handleProto(t)
  const { sync } = proto
  proto.sync = function (this: { fd: number }) {
    const releases = held.get(this.fd)
    if (releases !== undefined) {
      overlapped++
      held.delete(this.fd)
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
  t.ok(overlapped >= 1, `${overlapped} seals fsynced while a writeback was under way`)
  t.same(readDir(dir).records.map(seqOf), range(1000), 'every record, in order')
})

t.test('a writeback that fails while the seal fsyncs beside it fails the seal: the file stays unsealed', async (t) => {
  let failed = 0
  await aroundWritebacks(t, async (start) => {
    failed++
    await start()
    throw Object.assign(new Error('EIO: i/o error, sync_file_range'), { code: 'EIO', errno: -5, syscall: 'sync_file_range' })
  })
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  const sealed: SealedEvent[] = []
  sink.on('sealed', (e: SealedEvent) => sealed.push(e))
  const err = await writeAll(sink, range(1000).map(rec)).then(() => null, (e: Error & { code?: string }) => e)
  t.ok(failed >= 1, 'a writeback was started')
  t.match(err, { code: 'SHOEBOX_IO', message: /cannot fsync/ })
  t.same(sealed, [], 'nothing sealed')
  t.equal(tempNames(dir).length, 1, 'the file is left for recovery')
})
