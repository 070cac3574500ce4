/** RecordsToNdjson and recordJson (issue 9 C5): the form decode and read print, now in lib/ndjson. */
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { recordJson, RecordsToNdjson, type ShoeboxRecord } from '../../lib/index.js'

async function run (records: ShoeboxRecord[], payloadOnly?: boolean): Promise<{ text: Buffer, chunks: number }> {
  const out: Buffer[] = []
  await pipeline(Readable.from(records), new RecordsToNdjson(payloadOnly === undefined ? undefined : { payloadOnly }), new Writable({
    write (chunk: Buffer, _encoding, callback) {
      out.push(Buffer.from(chunk))
      callback()
    }
  }))
  return { text: Buffer.concat(out), chunks: out.length }
}

const rec = (payload: Buffer | string, metadata: Record<string, string> = {}, position?: { file: string, offset: number }): ShoeboxRecord =>
  ({ metadata, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), ...(position === undefined ? {} : { position }) })

t.test('recordJson: JSON parsed, text as utf8, binary as base64, position along', async (t) => {
  t.equal(recordJson(rec('{"a":[1,"ü"]}', { k: 'v' })), '{"metadata":{"k":"v"},"payload":{"a":[1,"ü"]}}')
  t.equal(recordJson(rec('plain text ✓')), '{"metadata":{},"payload":"plain text ✓","payloadEncoding":"utf8"}')
  t.equal(recordJson(rec(Buffer.from([0xff, 0x00, 0xfe]))), '{"metadata":{},"payload":"/wD+","payloadEncoding":"base64"}')
  t.equal(recordJson(rec('', {})), '{"metadata":{},"payload":"","payloadEncoding":"utf8"}')
  t.equal(recordJson(rec('1', {}, { file: 'a.shoebox', offset: 42 })), '{"metadata":{},"payload":1,"position":{"file":"a.shoebox","offset":42}}')
})

t.test('the stream: one line per record, in order, batched; payloadOnly gives the raw bytes', async (t) => {
  const records = Array.from({ length: 20000 }, (_, i) => rec(`{"n":${i},"s":"${'x'.repeat(i % 50)}"}`))
  const { text, chunks } = await run(records)
  t.equal(text.toString(), records.map((r) => recordJson(r) + '\n').join(''))
  t.ok(chunks < 20000 / 100, `batched: ${chunks} chunks for 20000 records`)
  const raw = await run([rec(Buffer.from([0xff, 0x0a])), rec('ü'), rec('')], true)
  t.same(raw.text, Buffer.from([0xff, 0x0a, 0x0a, 0xc3, 0xbc, 0x0a, 0x0a]))
  t.equal((await run([])).text.length, 0, 'no records, no output')
})
