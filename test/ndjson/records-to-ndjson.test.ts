/** RecordsToNdjson and recordJson (issue 9 C5): the form decode and read print, now in lib/ndjson. */
import { once } from 'node:events'
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

t.test('recordJson: a JSON payload as written, less whitespace: big numbers, repeated keys and key order kept, newlines gone', async (t) => {
  // Parsed and stringified again, these printed 9007199254740992, null, 1.5, one "b" and "2" first.
  t.equal(recordJson(rec('{"id": 9007199254740993, "big": 1e400, "p": 1.50,\n "o": {"b": 1, "2": "x y", "b": 3}}\n')),
    '{"metadata":{},"payload":{"id":9007199254740993,"big":1e400,"p":1.50,"o":{"b":1,"2":"x y","b":3}}}')
  t.equal(recordJson(rec(' "\\ud800" ', { k: 'v' }, { file: 'a', offset: 1 })), '{"metadata":{"k":"v"},"payload":"\\ud800","position":{"file":"a","offset":1}}')
  t.equal(recordJson(rec('{"__proto__": {"x": 1}}')), '{"metadata":{},"payload":{"__proto__":{"x":1}}}')
  // Past the depth limit (1000) it is text, as other non-JSON: no stack overflow either way.
  const deep = '['.repeat(100000) + ']'.repeat(100000)
  t.equal(recordJson(rec(deep)), JSON.stringify({ metadata: {}, payload: deep, payloadEncoding: 'utf8' }))
  t.equal(recordJson(rec('{"a":1} x')), '{"metadata":{},"payload":"{\\"a\\":1} x","payloadEncoding":"utf8"}')
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

t.test('what is not a record (a string payload made in code, bytes, no payload) fails the stream after the lines before it, never the process', async (t) => {
  // Each threw Node's TypeError out of _transform, through the pipe's 'data' handler: an uncaught exception.
  const refusals: Array<[unknown, string]> = [
    [{ metadata: {}, payload: 'text' }, 'its payload must be a Buffer (as decode() and archiveSource() give), got string'],
    [{ a: 1 }, 'its payload must be a Buffer (as decode() and archiveSource() give), got undefined'],
    [{ payload: new Uint8Array(2) }, 'its payload must be a Buffer (as decode() and archiveSource() give), got Uint8Array'],
    [{ metadata: 'k=v', payload: Buffer.from('x') }, 'its metadata must be an object, got string'],
    [Buffer.from('abc'), 'a record is an object with a Buffer payload, got 3 bytes: archive bytes go through decode() first'],
    ['text', 'a record is an object with a Buffer payload, got string']
  ]
  for (const payloadOnly of [false, true]) {
    for (const [bad, why] of refusals) {
      const out: string[] = []
      const done = pipeline(Readable.from([rec('"before"'), bad], { objectMode: true }), new RecordsToNdjson({ payloadOnly }), new Writable({
        write (chunk: Buffer, _encoding, callback) {
          out.push(chunk.toString())
          callback()
        }
      }))
      await t.rejects(done, { code: 'SHOEBOX_INVALID_RECORD', message: `RecordsToNdjson: record 1: ${why}; not written (the records before it are)` }, why)
      t.same(out.join(''), payloadOnly ? '"before"\n' : '{"metadata":{},"payload":"before"}\n', `${why}: the line before it is written`)
    }
  }
})

t.test('recordJson: a record made in code without metadata still makes a JSON line', async (t) => {
  // JSON.stringify(undefined) put "metadata":undefined in the line.
  t.equal(recordJson({ payload: Buffer.from('{"a":1}') } as ShoeboxRecord), '{"metadata":{},"payload":{"a":1}}')
})

t.test('a record that comes alone goes out without the input ending, and records that come apart go out together', async (t) => {
  const stream = new RecordsToNdjson({ payloadOnly: true })
  const chunks: string[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
  stream.write(rec('first'))
  await once(stream, 'data')
  t.same(chunks, ['first\n'], 'printed while the input is still open (read --follow, read | head -1)')
  // One record per turn of the event loop, as reading many small files gives them: still batched (each went out
  // alone when a batch ended at the loop's next turn). Fewer chunks than records, not one: the machine may pause us.
  chunks.length = 0
  const expected: string[] = []
  for (let i = 0; i < 100; i++) {
    stream.write(rec(String(i)))
    expected.push(`${i}\n`)
    await new Promise((resolve) => setImmediate(resolve))
  }
  stream.end()
  await once(stream, 'end')
  t.equal(chunks.join(''), expected.join(''), 'every record, in order')
  t.ok(chunks.length < 50, `batched: ${chunks.length} chunks for 100 records`)
})

t.test("payloadOnly takes true or false: 'true' or 1 is refused, not read as false (JSON lines where raw payloads were asked for)", async (t) => {
  for (const [given, shown] of [['true', '"true"'], [1, '1'], [null, 'null']] as const) {
    t.throws(() => new RecordsToNdjson({ payloadOnly: given as unknown as boolean }),
      { code: 'SHOEBOX_INVALID_OPTION', option: 'payloadOnly', message: `option payloadOnly: must be true or false, got ${shown}` }, shown)
  }
  t.doesNotThrow(() => new RecordsToNdjson({ payloadOnly: false }))
})
