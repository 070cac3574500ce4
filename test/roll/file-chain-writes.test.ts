/**
 * file-chain.ts does not wait on each block's write: blocks queued while a
 * write is out go together in the next one (one writev), and everything after
 * a write (`flush`, the hash, the seal) happens once it is back, in order. A
 * write that fails part-way counts the blocks that reached the file whole,
 * writes nothing after it, and leaves a file that recovery cuts back to them.
 * FileChain is driven directly, so which blocks are queued when is exact.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { compressionOf } from '../../lib/compress/codecs.js'
import { encodeRecords } from '../../lib/index.js'
import { FileChain, type FlushEvent, type SealedEvent } from '../../lib/roll/file-chain.js'
import { hostName, tempName } from '../../lib/roll/names.js'
import type { PlannedFile } from '../../lib/roll/planner.js'
import { recoverFile } from '../../lib/roll/recover.js'
import { decodeBytes, decodeFile, range, tempDir } from '../fixtures-roll/util.js'

type Writev = (this: unknown, buffers: Buffer[], position?: number | null) => Promise<{ bytesWritten: number, buffers: Buffer[] }>

/** Replace FileHandle.prototype.writev for this test; `wrap` gets the real one. */
async function patchWritev (t: Parameters<typeof tempDir>[0], wrap: (real: Writev) => Writev): Promise<void> {
  const probe = await fs.promises.open(tempDir(t), 'r')
  const proto = Object.getPrototypeOf(probe) as { writev: Writev }
  await probe.close()
  const real = proto.writev
  proto.writev = wrap(real)
  t.teardown(() => { proto.writev = real })
}

/**
 * Hold the first writev until `release()`: `first` resolves once it is out,
 * and `calls` gets each writev's number of buffers (blocks).
 */
async function holdFirstWrite (t: Parameters<typeof tempDir>[0]): Promise<{ calls: number[], first: Promise<void>, release: () => void }> {
  const calls: number[] = []
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  let firstCalled = (): void => {}
  const first = new Promise<void>((resolve) => { firstCalled = resolve })
  await patchWritev(t, (real) => async function (this: unknown, buffers, position) {
    calls.push(buffers.length)
    if (calls.length === 1) {
      firstCalled()
      await held
    }
    return await real.call(this, buffers, position)
  })
  return { calls, first, release }
}

const NAME = 'w.shoebox'

function plannedFile (): PlannedFile {
  return { name: NAME, openedAt: 0, bytes: 0, rawBytes: 0, records: 0, firstAt: 0, lastAt: 0, rawOnDisk: 0, bytesOnDisk: 0, deadline: undefined }
}

/** Block `i`: 40 records of about 1 KiB, payloads `i:j`. */
function blockData (i: number): Buffer {
  return encodeRecords(range(40).map((j) => ({ metadata: {}, payload: `${i}:${j}:${'x'.repeat(1000)}` })))
}

function chainIn (dir: string, compress: 'none' | 'gzip', fsync: 'onClose' | 'always' = 'onClose', sha256 = true): { chain: FileChain, flushes: FlushEvent[], sealed: SealedEvent[], failures: Error[] } {
  const flushes: FlushEvent[] = []
  const sealed: SealedEvent[] = []
  const failures: Error[] = []
  const chain = new FileChain(dir, { fsync, compression: compressionOf(compress), sha256 }, {
    open: () => {},
    flush: (e) => { flushes.push(e) },
    sealed: (e) => { sealed.push(e) },
    written: () => {},
    progress: () => {},
    failed: (err) => { failures.push(err) }
  })
  return { chain, flushes, sealed, failures }
}

t.test('blocks queued while a write is out go together in the next write; flush, hash and seal follow the writes, in order', async (t) => {
  const { calls, first, release } = await holdFirstWrite(t)
  const dir = tempDir(t)
  const { chain, flushes, sealed, failures } = chainIn(dir, 'none')
  const file = plannedFile()
  const blocks = range(4).map(blockData)
  file.records = 4 * 40
  chain.push({ file, data: blocks[0], records: 40, seal: false, timed: false })
  await first
  for (let i = 1; i < 4; i++) chain.push({ file, data: blocks[i], records: 40, seal: i === 3, timed: false })
  // The first write is still out: nothing is reported yet, and the chain still counts every block as pending.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(flushes, [], 'no flush before the write is back')
  t.equal(chain.pending, blocks.reduce((n, b) => n + b.length, 0), 'all four blocks pending')
  release()
  await chain.settled()
  t.same(failures, [])
  t.same(calls, [1, 3], 'the three blocks queued behind the first write went out in one writev')
  t.same(flushes.map((e) => [e.records, e.totalRecords, e.bytes]), blocks.map((b, i) => [40, 40 * (i + 1), b.length]), 'a flush per block, in order')
  t.equal(chain.pending, 0)
  t.equal(sealed.length, 1)
  const written = fs.readFileSync(sealed[0].path)
  t.ok(written.equals(Buffer.concat(blocks)), 'the file is the blocks, in order')
  t.equal(sealed[0].bytes, written.length)
  t.equal(sealed[0].sha256, createHash('sha256').update(written).digest('hex'), 'sealed sha256 is the file\'s')
})

for (const [fsync, expected] of [['onClose', [1, 8, 3]], ['always', Array(12).fill(1)]] as const) {
  t.test(`fsync ${fsync}: one write holds at most 8 blocks, and a block an fsync follows ends its write`, async (t) => {
    const { calls, first, release } = await holdFirstWrite(t)
    const { chain, flushes, sealed, failures } = chainIn(tempDir(t), 'none', fsync)
    const file = plannedFile()
    const blocks = range(12).map(blockData)
    file.records = 12 * 40
    chain.push({ file, data: blocks[0], records: 40, seal: false, timed: false })
    await first
    for (let i = 1; i < 12; i++) chain.push({ file, data: blocks[i], records: 40, seal: i === 11, timed: false })
    release()
    await chain.settled()
    t.same(failures, [])
    t.same(calls, expected, 'blocks per writev')
    t.equal(flushes.length, 12, 'a flush per block')
    t.ok(fs.readFileSync(sealed[0].path).equals(Buffer.concat(blocks)), 'the file is the blocks, in order')
  })
}

for (const compress of ['none', 'gzip'] as const) {
  t.test(`${compress}: a write that fails part-way counts the blocks before it, writes nothing after, and recovery keeps exactly them`, async (t) => {
    const blocks = range(5).map(blockData)
    const codec = compressionOf(compress)
    // What each block becomes on disk (the codecs are deterministic): the disk fills half-way into the third.
    const onDisk = codec === undefined ? blocks : await Promise.all(blocks.map(async (b) => await codec.codec.compressBlock(b, codec.level, 'test')))
    const fits = onDisk[0].length + onDisk[1].length + Math.floor(onDisk[2].length / 2)
    let budget = fits
    const calls: number[] = []
    await patchWritev(t, (real) => async function (this: unknown, buffers, position) {
      calls.push(buffers.length)
      if (budget <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
      const parts: Buffer[] = []
      for (let room = budget, i = 0; i < buffers.length && room > 0; room -= buffers[i++].length) parts.push(buffers[i].subarray(0, room))
      const result = await real.call(this, parts, position)
      budget -= result.bytesWritten
      return result
    })
    const dir = tempDir(t)
    const { chain, flushes, sealed, failures } = chainIn(dir, compress)
    const file = plannedFile()
    for (let i = 0; i < 4; i++) chain.push({ file, data: blocks[i], records: 40, seal: false, timed: false })
    await chain.settled()
    const temp = path.join(dir, tempName(NAME, hostName()))
    if (compress === 'none') t.equal(calls[0], 4, 'the four blocks went out in one writev, which the disk cut short')
    t.equal(failures.length, 1, 'the chain failed once')
    t.match(failures[0], { code: 'SHOEBOX_IO', message: `cannot write ${temp}: no space left on device (ENOSPC)` })
    t.same(flushes.map((e) => [e.totalRecords, e.bytes]), [[40, onDisk[0].length], [80, onDisk[1].length]], 'the two blocks that reached the file whole are flushed')
    t.same(chain.kept(true).unsealed, { path: temp, records: 80, inPart: 40 }, 'two blocks whole, the third in part')
    t.equal(fs.statSync(temp).size, fits, 'the file holds what fitted')
    const callsAtFailure = calls.length
    chain.push({ file, data: blocks[4], records: 40, seal: true, timed: false })
    await chain.settled()
    t.equal(calls.length, callsAtFailure, 'nothing is written after the failure')
    t.equal(fs.statSync(temp).size, fits)
    t.same(sealed, [])
    await chain.close()

    // Recovery cuts a plain file back to its last whole record, a compressed one to its last whole member.
    const half = Math.floor(onDisk[2].length / 2)
    const whole = compress === 'none' ? decodeBytes(blocks[2]).filter((d) => d.offset + d.size <= half) : []
    const kept = onDisk[0].length + onDisk[1].length + (whole.at(-1)?.offset ?? 0) + (whole.at(-1)?.size ?? 0)
    const recovered = await recoverFile(dir, temp, NAME)
    t.match(recovered, { records: 80 + whole.length, bytesDropped: fits - kept, damaged: false })
    const back = decodeFile(recovered.path as string).map((d) => d.record.payload.toString('utf8').split(':').slice(0, 2).join(':'))
    const expected = [0, 1].flatMap((i) => range(40).map((j) => `${i}:${j}`)).concat(whole.map((_, j) => `2:${j}`))
    t.same(back, expected, 'recovery keeps the records written whole, in order, nothing after')
  })
}
