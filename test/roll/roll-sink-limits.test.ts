/**
 * rollingSink's maxRecordSize, on both of its inputs: records (encoded by its
 * ArchiveEncoder) and Buffers of encode()'s output (walked record by record).
 * A record over the limit fails the sink naming its index within the sink, its
 * size and the limit; nothing of it is written, and every record before it is
 * on disk: in sealed files, or in the temporary file that recovery seals
 * (forced here: the temporary file names this process, which is alive).
 */
import fs from 'node:fs'
import t from 'tap'
import { encodeRecords, recoverDirectory, rollingSink, type FormatVersion, type RecordInput, type RollingSinkOptions } from '../../lib/index.js'
import { range, readDir, seqOf, tempDir, tempNames } from '../fixtures-roll/util.js'

const LIMIT = 1024

function rec (seq: number): RecordInput {
  return { metadata: { k: 'v' }, payload: { seq } }
}

/** Write `items` one by one until the sink fails; the error, once the sink has closed. */
async function failure (options: RollingSinkOptions, items: Array<RecordInput | RecordInput[] | Buffer>): Promise<Error | undefined> {
  const sink = rollingSink(options)
  const closed = new Promise((resolve) => sink.on('close', resolve))
  let error: Error | undefined
  sink.on('error', (err: Error) => { error ??= err })
  for (const item of items) sink.write(item)
  sink.end()
  await closed
  return error
}

/** A record of exactly `size` bytes (32 bytes of header and trailer, no metadata). */
function exactly (size: number, format: FormatVersion = 'v2'): Buffer {
  return encodeRecords([{ payload: Buffer.alloc(size - overhead(format), 'z') }], { format })
}

/** Bytes of a record with no metadata and an empty payload. */
function overhead (format: FormatVersion): number {
  return encodeRecords([{ payload: Buffer.alloc(0) }], { format }).length
}

for (const format of ['v1', 'v2'] as FormatVersion[]) {
  for (const gzip of [false, true]) {
    const name = `${format}${gzip ? ', gzip' : ''}`

    t.test(`${name}: an encoded Buffer holding a record over maxRecordSize fails the sink naming index, size and limit`, async (t) => {
      const dir = tempDir(t)
      const big = exactly(LIMIT + 1, format)
      // Records 0-4 in one Buffer, then 5-6 and the big one (index 7) and 8 in another: 5, 6 are kept, nothing of 7 or 8.
      const first = encodeRecords(range(5).map(rec), { format })
      const second = Buffer.concat([encodeRecords([rec(5), rec(6)], { format }), big, encodeRecords([rec(8)], { format })])
      const err = await failure({ dir, format, gzip, maxRecordSize: LIMIT, flushInterval: 0, roll: { records: 3 } }, [first, second])
      t.match(err, {
        code: 'SHOEBOX_INVALID_RECORD',
        message: `record 7: ${LIMIT + 1} bytes encoded, over maxRecordSize ${LIMIT}; not written (the records before it are)`
      })
      t.same(readDir(dir).records.map(seqOf), [0, 1, 2, 3, 4, 5], 'two files of three sealed before the failure')
      t.equal(tempNames(dir).length, 1, 'the file being written is left as a temporary file')
      const recovered = await recoverDirectory(dir, { force: true })
      t.same(recovered.map((r) => r.records), [1], 'recovery seals the record written before the refused one')
      t.same(readDir(dir).records.map(seqOf), [0, 1, 2, 3, 4, 5, 6], 'every record before the refused one, none after')
    })

    t.test(`${name}: exactly maxRecordSize is written from an encoded Buffer`, async (t) => {
      const dir = tempDir(t)
      const err = await failure({ dir, format, gzip, maxRecordSize: LIMIT, flushInterval: 0 }, [Buffer.concat([encodeRecords([rec(0)], { format }), exactly(LIMIT, format)])])
      t.equal(err, undefined)
      const records = readDir(dir).records
      t.equal(records.length, 2)
      t.equal(records[1]?.payload.length, LIMIT - overhead(format))
    })
  }
}

t.test('records: the records before a refused one are written too, recoverable from the temporary file', async (t) => {
  const dir = tempDir(t)
  const items: Array<RecordInput | RecordInput[]> = [rec(0), [rec(1), rec(2), { payload: Buffer.alloc(2000) }, rec(4)]]
  const err = await failure({ dir, maxRecordSize: LIMIT, flushInterval: 0 }, items)
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /^record 3: 2032 bytes encoded, over maxRecordSize 1024; not written/ })
  t.same(readDir(dir).records, [], 'nothing sealed')
  const recovered = await recoverDirectory(dir, { force: true })
  t.same(recovered.map((r) => r.records), [3])
  t.same(readDir(dir).records.map(seqOf), [0, 1, 2])
})

t.test('the index counts records across both inputs', async (t) => {
  const dir = tempDir(t)
  const err = await failure({ dir, maxRecordSize: LIMIT, flushInterval: 0 }, [rec(0), encodeRecords([rec(1), rec(2)]), [rec(3)], exactly(LIMIT + 1)])
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /^record 4: 1025 bytes encoded/ })
  await recoverDirectory(dir, { force: true })
  t.same(readDir(dir).records.map(seqOf), [0, 1, 2, 3])
})

t.test('a refused first record leaves no file at all', async (t) => {
  const dir = tempDir(t)
  const err = await failure({ dir, maxRecordSize: LIMIT, flushInterval: 0 }, [exactly(LIMIT + 1)])
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /^record 0: 1025 bytes/ })
  t.same(fs.readdirSync(dir), [])
})
