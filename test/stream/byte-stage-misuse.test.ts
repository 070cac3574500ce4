/**
 * Records or objects piped into a byte stage (decode(), encodeNdjson()):
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
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, decode, encodeNdjson, encodeRecords, payloadText, type ShoeboxRecord } from '../../lib/index.js'

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

t.test('objects piped into encodeNdjson() or decode(): a stream error, not an uncaught exception', async (t) => {
  for (const [name, stage] of [['encodeNdjson()', () => encodeNdjson()], ['decode()', () => decode()]] as const) {
    await t.rejects(pipeline(Readable.from([{ a: 1 }]), stage(), drain()), { code: 'SHOEBOX_USAGE', message: new RegExp(`^${name.replace(/[()]/g, '\\$&')} takes bytes .*, got an object; `) }, name)
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
