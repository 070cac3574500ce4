/**
 * Bytes the rolling sink cannot cut into whole encoded records: the usual
 * ETL mistake is an NDJSON file piped straight into it
 * (`pipeline(fs.createReadStream('events.ndjson'), rollingSink(...))`),
 * which was refused as "encoded input must hold whole records; bytes from
 * offset 0 of a 65536-byte chunk are not one", naming neither the sink nor
 * what to do. The error names the sink, the offset, the stage that
 * archives NDJSON, and what was kept.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { encodeRecords, rollingSink } from '../../lib/index.js'
import { decodeFile, tempDir } from '../fixtures-roll/util.js'

t.test('an NDJSON file piped into rollingSink(): refused naming the sink, the text and encodeNdjson()', async (t) => {
  const dir = tempDir(t)
  const input = path.join(tempDir(t), 'events.ndjson')
  fs.writeFileSync(input, '{"page":"/","n":1}\n{"page":"/é","n":2}\n')
  await t.rejects(pipeline(fs.createReadStream(input), rollingSink({ dir })), {
    code: 'SHOEBOX_INVALID_RECORD',
    message: /^rollingSink\(\): bytes from offset 0 of a 40-byte chunk are not a whole encoded record; the sink takes records, or the bytes encode\(\) and encodeNdjson\(\) give \(NDJSON goes through encodeNdjson\(\) first\): none of this chunk is written, nothing came before it$/
  })
})

t.test('a chunk cut inside a record: the offset in the chunk, and the records of earlier writes kept', async (t) => {
  const dir = tempDir(t)
  const whole = encodeRecords([{ payload: 'a' }, { payload: 'b' }])
  const cut = whole.length - 3
  await t.rejects(pipeline(Readable.from([{ payload: 'first' }, encodeRecords([{ payload: 'second' }]), whole.subarray(0, cut)]), rollingSink({ dir, blockSize: 1 })), {
    code: 'SHOEBOX_INVALID_RECORD',
    message: new RegExp(`^rollingSink\\(\\): bytes from offset ${whole.length / 2} of a ${cut}-byte chunk are not a whole encoded record; the sink takes records, .*: none of this chunk is written, the 2 records before it are$`)
  })
  const kept = fs.readdirSync(dir).flatMap((name) => decodeFile(path.join(dir, name)).map((d) => d.record.payload.toString()))
  t.same(kept, ['first', 'second'], 'the records before it are on disk, for recovery to seal')
})
