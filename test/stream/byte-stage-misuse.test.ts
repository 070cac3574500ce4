/**
 * Records or objects piped into a byte stage (decode(), encodeNdjson(), the
 * compression stages, stampNdjson()):
 * Node's write() threw its own ERR_INVALID_ARG_TYPE inside the writer, an
 * uncaught exception from a pipe's 'data' handler that ended the process
 * (Readable.from(objects) into encodeNdjson()), or, from archiveSource(),
 * a SHOEBOX_IO error blaming the file it was reading
 * (`pipeline(archiveSource(...), decode(), ...)`, as DESIGN.md once showed).
 * Now the stage fails with SHOEBOX_USAGE saying what it takes.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Duplex, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import t from 'tap'
import {
  archiveSource, decode, encode, encodeNdjson, encodeRecords, gunzip, gunzipMembers, gzip, payloadText, zstd, zstdDecompress, type ShoeboxRecord
} from '../../lib/index.js'
import { stampNdjson } from '../../lib/events/index.js'

const drain = (): Writable => new Writable({ objectMode: true, write (_chunk, _enc, done) { done() } })

t.test('archiveSource() piped into decode(): SHOEBOX_USAGE naming decode(), not an I/O error on the file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-byte-stage-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  fs.writeFileSync(path.join(dir, 'a.shoebox'), encodeRecords([{ payload: 'a' }]))
  await t.rejects(pipeline(archiveSource(path.join(dir, '*.shoebox')), decode(), drain()), {
    code: 'SHOEBOX_USAGE',
    message: 'decode() takes bytes (a Buffer, Uint8Array or string), got an object; archiveSource() and decode() give records already, and encode() takes them'
  })
})

t.test('objects piped into any byte stage: a stream error, not an uncaught exception', async (t) => {
  // The compression stages and stampNdjson() threw zlib's or split2's TypeError from the pipe's 'data' handler.
  const stages: Array<[string, () => Duplex]> = [
    ['encodeNdjson()', () => encodeNdjson()], ['decode()', () => decode()], ['gzip()', () => gzip()], ['gunzip()', () => gunzip()],
    ['gunzip()', () => gunzipMembers()], ['zstd()', () => zstd()], ['zstdDecompress()', () => zstdDecompress()],
    ['stampNdjson()', () => stampNdjson({ stream: 's' })]
  ]
  for (const [name, stage] of stages) {
    await t.rejects(pipeline(Readable.from([{ a: 1 }]), stage(), drain()), { code: 'SHOEBOX_USAGE', message: new RegExp(`^${name.replace(/[()]/g, '\\$&')} takes bytes .*, got an object; `) }, name)
  }
})

t.test('archiveSource() piped into gunzip(), records into gzip(): each says where records go instead', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-byte-stage-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  fs.writeFileSync(path.join(dir, 'a.shoebox.gz'), zlib.gzipSync(encodeRecords([{ payload: 'a' }])))
  await t.rejects(pipeline(archiveSource(path.join(dir, '*.shoebox.gz')), gunzip(), drain()), {
    code: 'SHOEBOX_USAGE',
    message: 'gunzip() takes bytes (a Buffer, Uint8Array or string), got an object; it decompresses bytes; archiveSource() and decode() give records already'
  })
  await t.rejects(pipeline(Readable.from([{ payload: 'a' }]), gzip(), drain()), {
    code: 'SHOEBOX_USAGE',
    message: 'gzip() takes bytes (a Buffer, Uint8Array or string), got an object; it compresses bytes, such as encode()\'s output: records go through encode() first'
  })
})

t.test('the compression stages still take bytes: encode() -> gzip() -> gunzip() -> decode() and the same with zstd', async (t) => {
  for (const [compress, decompress] of [[gzip, gunzip], [zstd, zstdDecompress]] as const) {
    const out: string[] = []
    await pipeline(Readable.from([{ payload: 'a' }, { payload: 'b' }]), encode(), compress(), decompress(), decode(),
      new Writable({ objectMode: true, write (r: ShoeboxRecord, _e, done) { out.push(payloadText(r)); done() } }))
    t.same(out, ['a', 'b'], compress.name)
  }
})

t.test('the bytes before a refused write are still decoded; a write callback hears the error', async (t) => {
  const stream = decode()
  const records: string[] = []
  stream.on('data', (record: ShoeboxRecord) => { records.push(payloadText(record)) })
  stream.on('error', () => {}) // heard through the callback below
  stream.write(encodeRecords([{ payload: 'a' }]))
  const heard = new Promise<unknown>((resolve) => { stream.write(null as unknown as Buffer, (err) => { resolve(err) }) })
  t.match(await heard, { code: 'SHOEBOX_USAGE', message: /got null;/ }, 'the callback gets the error')
  t.same(records, ['a'], 'the record written before it was decoded')
  t.ok(stream.destroyed, 'the stream is failed')
})

t.test('text and Uint8Array still go through', async (t) => {
  const bytes = encodeRecords([{ payload: 'a' }, { payload: 'b' }])
  const out: string[] = []
  await pipeline(Readable.from([new Uint8Array(bytes.subarray(0, 10)), bytes.subarray(10)]), decode(), new Writable({ objectMode: true, write (r: ShoeboxRecord, _e, done) { out.push(payloadText(r)); done() } }))
  t.same(out, ['a', 'b'])
  const encoded: Buffer[] = []
  await pipeline(Readable.from(['{"a":1}\n', '{"b":2}\n']), encodeNdjson(), new Writable({ write (c: Buffer, _e, done) { encoded.push(c); done() } }))
  const decoded: string[] = []
  await pipeline(Readable.from([Buffer.concat(encoded)]), decode(), new Writable({ objectMode: true, write (r: ShoeboxRecord, _e, done) { decoded.push(payloadText(r)); done() } }))
  t.same(decoded, ['{"a":1}', '{"b":2}'])
})
