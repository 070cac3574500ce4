/**
 * A writer that fills one buffer again once each write is called back (a
 * reader with a single buffer: FileHandle.read into it, write it, wait for
 * the callback, read into it again). A stage that kept a view of the bytes
 * it had called back for read the new bytes in their place: gunzip() and
 * gunzipMembers() held a header or trailer split across writes, and
 * zstdDecompress() a frame not yet whole, so every such read failed as
 * damaged (or, had the new bytes checked out, gave other data); zstd()
 * called back while the chunk's frame was still compressing, and wrote
 * valid zstd of the new bytes. decode(), encodeNdjson() and gzip(), which
 * are done with a write's bytes when they call back, are checked beside them.
 */
import { Writable, type Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import { Readable } from 'node:stream'
import t from 'tap'
import { decode, encodeNdjson, encodeRecords, gunzip, gunzipMembers, gzip, payloadText, zstd, zstdDecompress, type ShoeboxRecord } from '../../lib/index.js'

const records = Array.from({ length: 600 }, (_, i) => ({ metadata: { i: String(i) }, payload: 'p'.repeat(i % 300) + String(i) }))
const archive = encodeRecords(records)

/** Write `input` through `stage` in `size`-byte pieces of one buffer, refilled with 0xee after each callback; what came out. */
async function throughOneBuffer (stage: Duplex, input: Buffer, size: number): Promise<unknown[]> {
  const out: unknown[] = []
  const collected = pipeline(stage, new Writable({
    objectMode: true,
    write (item: unknown, _encoding, done) {
      out.push(Buffer.isBuffer(item) ? Buffer.from(item) : payloadText(item as ShoeboxRecord))
      done()
    }
  }))
  const buf = Buffer.alloc(size)
  for (let at = 0; at < input.length; at += size) {
    const n = input.copy(buf, 0, at, at + size)
    await new Promise<void>((resolve, reject) => { stage.write(buf.subarray(0, n), (err) => { if (err == null) resolve(); else reject(err) }) })
    buf.fill(0xee)
  }
  stage.end()
  await collected
  return out
}

async function zstdBytes (input: Buffer): Promise<Buffer> {
  const out: Buffer[] = []
  // Two writes, two frames: the second starts mid-input.
  await pipeline(Readable.from([input.subarray(0, 20000), input.subarray(20000)]), zstd(), new Writable({ write (c: Buffer, _e, done) { out.push(c); done() } }))
  return Buffer.concat(out)
}

t.test('the decompressing stages read what was written, not what the writer put in its buffer afterwards', async (t) => {
  const gzipped = zlib.gzipSync(archive)
  const members = Buffer.concat([zlib.gzipSync(archive.subarray(0, 1000)), zlib.gzipSync(archive.subarray(1000))])
  const zstded = await zstdBytes(archive)
  const stages: Array<[string, () => Duplex, Buffer]> = [
    ['gunzip()', gunzip, gzipped], ['gunzipMembers()', () => gunzipMembers(), members], ['zstdDecompress()', () => zstdDecompress(), zstded]
  ]
  for (const size of [3, 100, 4096]) {
    for (const [name, stage, input] of stages) {
      const out = await throughOneBuffer(stage(), input, size)
      t.ok(Buffer.concat(out as Buffer[]).equals(archive), `${name}, ${size}-byte writes`)
    }
  }
})

t.test('decode() and encodeNdjson() copy what they hold across writes too', async (t) => {
  const lines = Buffer.from(records.map((r) => JSON.stringify({ p: r.payload })).join('\n') + '\n')
  for (const size of [3, 100, 4096]) {
    t.same(await throughOneBuffer(decode(), archive, size), records.map((r) => r.payload), `decode(), ${size}-byte writes`)
    const encoded = Buffer.concat(await throughOneBuffer(encodeNdjson(), lines, size) as Buffer[])
    const back = await throughOneBuffer(decode(), encoded, 65536)
    t.same(back, records.map((r) => JSON.stringify({ p: r.payload })), `encodeNdjson(), ${size}-byte writes`)
  }
})

t.test('the compressing stages compress what was written: zstd() called back before its frames were compressed', async (t) => {
  for (const size of [4096, 65536]) {
    for (const [name, compress, decompress] of [['zstd()', zstd, zstdDecompress], ['gzip()', gzip, gunzip]] as const) {
      const compressed = Buffer.concat(await throughOneBuffer(compress(), archive, size) as Buffer[])
      const back = Buffer.concat(await throughOneBuffer(decompress(), compressed, 65536) as Buffer[])
      t.ok(back.equals(archive), `${name}, ${size}-byte writes`)
    }
  }
})
