/**
 * encode()'s per-write path (lib/format/encode.ts): one record per write,
 * writes that queue up behind backpressure and arrive as one batch
 * (_writev), a refused record inside such a batch, and the backpressure
 * rule itself (callbacks held while the readable side is full).
 */
import t from 'tap'
import { once } from 'node:events'
import { encode, encodeRecords, payloadText, type RecordInput } from '../../lib/index.js'
import { decodeRecords } from '../helpers.js'

function record (i: number): RecordInput {
  // Unicode metadata and payloads of varying length, so that records straddle chunks.
  return { metadata: { seq: String(i), who: i % 7 === 0 ? 'zoë ☃' : 'ops' }, payload: 'p'.repeat(i % 300) + String(i) }
}

/** Collect everything encode() emits until 'end' (or the error). */
function collect (stream: ReturnType<typeof encode>): Promise<{ out: Buffer, err: Error | undefined }> {
  const parts: Buffer[] = []
  stream.on('data', (b: Buffer) => { parts.push(b) })
  return new Promise((resolve) => {
    stream.once('end', () => { resolve({ out: Buffer.concat(parts), err: undefined }) })
    stream.once('error', (err) => { resolve({ out: Buffer.concat(parts), err }) })
  })
}

for (const chunkSize of [64, 1000, 1024 * 1024]) {
  t.test(`chunkSize ${chunkSize}: one record per write, corked (one batch) or not, gives encodeRecords' bytes`, async (t) => {
    const records = Array.from({ length: 2000 }, (_, i) => record(i))
    const expected = encodeRecords(records, { chunkSize })

    const plain = encode({ chunkSize })
    const plainDone = collect(plain)
    for (const r of records) plain.write(r)
    plain.end()
    const a = await plainDone
    t.equal(a.err, undefined)
    t.ok(a.out.equals(expected), 'one record per write: byte-identical')

    const corked = encode({ chunkSize })
    const corkedDone = collect(corked)
    corked.cork()
    for (const r of records.slice(0, 1000)) corked.write(r)
    corked.write(records.slice(1000, 1500)) // an array inside the batch
    for (const r of records.slice(1500)) corked.write(r)
    corked.uncork()
    corked.end()
    const b = await corkedDone
    t.equal(b.err, undefined)
    t.ok(b.out.equals(expected), 'queued writes (a _writev batch, with an array in it): byte-identical')
    t.equal(corked.records, records.length)
  })
}

t.test('a refused record inside a batch: the records before it are delivered, then the error naming it', async (t) => {
  const stream = encode({ maxRecordSize: 1024 })
  const done = collect(stream)
  stream.cork()
  for (let i = 0; i < 5; i++) stream.write({ payload: `ok ${i}` })
  stream.write([{ payload: 'ok 5' }, { payload: Buffer.alloc(2000) }])
  stream.write({ payload: 'never' })
  stream.uncork()
  const { out, err } = await done
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /^record 6: 2032 bytes/ })
  t.same((await decodeRecords(out)).map(payloadText), ['ok 0', 'ok 1', 'ok 2', 'ok 3', 'ok 4', 'ok 5'])
  t.equal(stream.records, 6)
})

t.test('backpressure: with nobody reading, write() soon returns false; reading lets every record through', async (t) => {
  const stream = encode({ chunkSize: 4096 })
  const records: RecordInput[] = []
  let accepted = true
  // Without held callbacks nothing would ever queue, and write() would return true every time.
  while (accepted && records.length < 20_000) {
    const r = record(records.length)
    records.push(r)
    accepted = stream.write(r)
  }
  t.equal(accepted, false, `write() returned false after ${records.length} records`)
  t.ok(records.length < 2000, 'long before 20,000 records')
  t.ok(stream.readableLength < 4 * 4096 + stream.readableHighWaterMark, `output held back: ${stream.readableLength} bytes buffered`)
  const drained = once(stream, 'drain')
  const done = collect(stream)
  await drained
  stream.end()
  const { out, err } = await done
  t.equal(err, undefined)
  t.ok(out.equals(encodeRecords(records, { chunkSize: 4096 })), 'every record, in order, byte-identical')
})

t.test('a trickle of single writes still goes out when the event loop turns', async (t) => {
  const stream = encode()
  const parts: Buffer[] = []
  stream.on('data', (b: Buffer) => { parts.push(b) })
  stream.write(record(1))
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.same((await decodeRecords(Buffer.concat(parts))).map((r) => r.metadata.seq), ['1'], 'the first record is out before end()')
  stream.write(record(2))
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.same((await decodeRecords(Buffer.concat(parts))).map((r) => r.metadata.seq), ['1', '2'], 'and the second')
  stream.end()
  await once(stream, 'end')
})

t.test('a lone record written into an idle stream is encoded by write() itself: _write sees only the writes that need it', async (t) => {
  const records = Array.from({ length: 2000 }, (_, i) => record(i))
  const stream = encode()
  const seen: unknown[] = []
  const ownWrite = stream._write.bind(stream)
  stream._write = (chunk, encoding, callback) => {
    seen.push(chunk)
    ownWrite(chunk, encoding, callback)
  }
  const done = collect(stream)
  for (const r of records) t.equal(stream.write(r), true)
  stream.end()
  const { out, err } = await done
  t.equal(err, undefined)
  t.ok(out.equals(encodeRecords(records)), 'byte-identical')
  // 2000 short records fill no 1 MiB chunk: nothing needed the Writable machinery (it took every one before).
  t.equal(seen.length, 0, `_write was called ${seen.length} times`)
  t.equal(stream.records, records.length)
})

t.test('a lone record refused on the fast path: the records before it are delivered, then the error naming it', async (t) => {
  const stream = encode({ maxRecordSize: 1024 })
  const done = collect(stream)
  for (let i = 0; i < 5; i++) stream.write({ payload: `ok ${i}` })
  stream.write({ payload: Buffer.alloc(2000) })
  stream.write({ payload: 'never' })
  const { out, err } = await done
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /^record 5: 2032 bytes/ })
  t.same((await decodeRecords(out)).map(payloadText), ['ok 0', 'ok 1', 'ok 2', 'ok 3', 'ok 4'])
  t.equal(stream.records, 5)
})

/** A record whose metadata `k` ('v') is a getter that runs `once` the first time it is read, while the record is encoded. */
function withGetter (payload: RecordInput['payload'], once: () => void): RecordInput {
  let fired = false
  return {
    metadata: {
      get k () {
        if (!fired) {
          fired = true
          once()
        }
        return 'v'
      }
    },
    payload
  }
}

/**
 * User code that runs while a record is encoded (here a metadata getter)
 * and acts on the stream: what it does comes after that record, as it did
 * when every record went through _write (a write then waited its turn).
 */
for (const act of ['write', 'write twice', 'end', 'cork, write, uncork'] as const) {
  t.test(`a metadata getter that does "${act}" on the stream while its record is encoded`, async (t) => {
    const stream = encode({ chunkSize: 64 })
    const outer = withGetter('outer', () => {
      if (act === 'write') stream.write({ payload: 'inner' })
      if (act === 'write twice') { stream.write({ payload: 'inner' }); stream.write({ payload: 'inner 2' }) }
      if (act === 'end') stream.end()
      if (act === 'cork, write, uncork') { stream.cork(); stream.write({ payload: 'inner' }); stream.uncork() }
    })
    const done = collect(stream)
    stream.write({ payload: 'first' })
    stream.write(outer)
    if (act !== 'end') {
      stream.write({ payload: 'last' })
      stream.end()
    }
    const { out, err } = await done
    t.equal(err, undefined)
    const inner = act === 'end' ? [] : act === 'write twice' ? ['inner', 'inner 2'] : ['inner']
    const payloads = ['first', 'outer', ...inner, ...(act === 'end' ? [] : ['last'])]
    t.same((await decodeRecords(out)).map(payloadText), payloads)
    t.same((await decodeRecords(out))[1].metadata, { k: 'v' })
    t.equal(stream.records, payloads.length)
  })
}

t.test('a record refused after its metadata getter wrote to the stream: that write fails with it', async (t) => {
  const stream = encode({ maxRecordSize: 1024 })
  const outer = withGetter(Buffer.alloc(2000), () => { stream.write({ payload: 'inner' }) })
  const done = collect(stream)
  stream.write({ payload: 'first' })
  stream.write(outer)
  const { out, err } = await done
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /^record 1: / })
  t.same((await decodeRecords(out)).map(payloadText), ['first'])
  t.equal(stream.records, 1)
})
