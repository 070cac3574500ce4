/**
 * Recovery walks a zstd file's frames with maxFrameSize's default (256 MiB)
 * as their limit, as a read does (issue 12): a frame over it was
 * decompressed whole before, so a few KB of zstd in a sink's directory (a
 * foreign or hostile file under a temporary name) cost a gigabyte or more.
 * Such a frame cannot be one a sink wrote (its frames are about its 1 MiB
 * blockSize): the good part ends there, and recovery says so. It is kept,
 * not cut, since a larger maxFrameSize may read it.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { encodeRecords, recoverDirectory, type RecordInput } from '../../lib/index.js'
import { recoveredLine } from '../../lib/cli/recovered-line.js'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { tempName } from '../../lib/roll/names.js'
import { deadPid, tempDir } from '../fixtures-roll/util.js'

const rec = (n: number): RecordInput => ({ metadata: { n: String(n) }, payload: `récord ${n} ${'z'.repeat(n % 30)}` })

/** 2050 RLE blocks of 128 KiB of zeros, no content size: 8 KB that could hold 256 MiB + 256 KiB. */
function foreignFrame (): Buffer {
  const blocks = Array.from({ length: 2050 }, (_, i) => {
    const block = Buffer.alloc(4)
    block.writeUIntLE(131072 << 3 | 1 << 1 | (i === 2049 ? 1 : 0), 0, 3)
    return block
  })
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3]), ...blocks])
}

t.test('a last frame over maxFrameSize ends the good part, unread, and is kept', async (t) => {
  const dir = tempDir(t)
  const frames = [await zstdFrame(encodeRecords([0, 1, 2].map(rec)), 1), await zstdFrame(encodeRecords([3, 4].map(rec)), 1)]
  const good = Buffer.concat(frames)
  const foreign = foreignFrame()
  const data = Buffer.concat([good, foreign])
  fs.writeFileSync(path.join(dir, tempName('x.shoebox.zst', undefined, await deadPid())), data)
  const [recovered] = await recoverDirectory(dir)
  t.equal(recovered.path, path.join(dir, 'x.shoebox.zst'))
  t.match(recovered, { records: 5, bytesDropped: 0, damaged: false })
  t.match(recovered.tooLarge, new RegExp(`^zstd data: the frame at compressed byte ${good.length} could hold at least 268566528 bytes \\(by the headers of its first 2049 blocks\\), over maxFrameSize 268435456; not decompressed`))
  t.ok(fs.readFileSync(recovered.path as string).equals(data), 'sealed whole: nothing cut')
  t.match(recoveredLine(recovered), /5 records kept, 0 bytes dropped; kept whole after them: zstd data: the frame at compressed byte \d+ could hold at least/)
})

t.test('a sink\'s own file recovers as before: the limit is far above its frames', async (t) => {
  const dir = tempDir(t)
  const frames = await Promise.all([[0, 1], [2, 3, 4]].map(async (ns) => await zstdFrame(encodeRecords(ns.map(rec)), 1)))
  const torn = (await zstdFrame(encodeRecords([5].map(rec)), 1)).subarray(0, 12)
  fs.writeFileSync(path.join(dir, tempName('y.shoebox.zst', undefined, await deadPid())), Buffer.concat([...frames, torn]))
  const [recovered] = await recoverDirectory(dir)
  t.same({ records: recovered.records, bytesDropped: recovered.bytesDropped, damaged: recovered.damaged, tooLarge: recovered.tooLarge }, { records: 5, bytesDropped: 12, damaged: false, tooLarge: undefined })
  t.ok(fs.readFileSync(recovered.path as string).equals(Buffer.concat(frames)), 'its complete frames kept')
})
