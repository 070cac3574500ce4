/**
 * Data that is not an archive, met at its first byte: the error says what it
 * looks like (NDJSON is the usual mistake), whatever the chunking; binary
 * data and damage later in an archive keep the bare reason.
 */
import t from 'tap'
import { decode, encodeRecords } from '../../lib/index.js'
import { describeForeignData } from '../../lib/format/foreign-data.js'
import { chunked } from '../helpers.js'

async function failure (bytes: Buffer, chunk: number, mode: 'strict' | 'lenient' = 'strict'): Promise<{ message: string, detail: string }> {
  const stream = decode({ file: 'in.ndjson', mode })
  const details: string[] = []
  stream.on('corrupt', (info: { detail: string }) => { details.push(info.detail) })
  const done = (async () => { for await (const record of stream) void record })()
  for (const c of chunked(bytes, chunk)) stream.write(c)
  stream.end()
  return await done.then(() => ({ message: '', detail: details.join('|') }), (err: Error & { detail: string }) => ({ message: err.message, detail: err.detail }))
}

t.test('NDJSON and other text given as an archive: the error at byte 0 says what it is', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['NDJSON', '{"a":1}\n{"a":2}\n', '; it is JSON text, not an archive (it begins \'{"a":1}\'; `shoebox write`, `shoebox encode` and encode() archive NDJSON)'],
    ['a JSON array after a BOM and blank lines', '\uFEFF\n\r\n  [1, 2,\n3]', '; it is JSON text, not an archive (it begins \'[1, 2,\'; `shoebox write`, `shoebox encode` and encode() archive NDJSON)'],
    ['a long first line, cut', `{"text":"${'é'.repeat(60)}"}\n`, `; it is JSON text, not an archive (it begins '{"text":"${'é'.repeat(31)}...'; \`shoebox write\`, \`shoebox encode\` and encode() archive NDJSON)`],
    ['CSV', 'time,user\n1,ann\n', '; it is text, not an archive (it begins \'time,user\')'],
    ['a tab in the line', '{"a":\t1}\n', '; it is JSON text, not an archive (it begins \'{"a": 1}\'; `shoebox write`, `shoebox encode` and encode() archive NDJSON)']
  ]
  for (const [name, text, clause] of cases) {
    for (const chunk of [1 << 16, 5]) {
      const { message, detail } = await failure(Buffer.from(text), chunk)
      t.equal(message, `in.ndjson: at byte 0: bad-magic: expected beginning-of-record marker 84 78 86 69${clause}`, `${name}, chunks of ${chunk}`)
      t.ok(detail.endsWith(clause), `${name}: the error's detail too`)
    }
  }
  const lenient = await failure(Buffer.from('{"a":1}\n'), 1 << 16, 'lenient')
  t.match(lenient.detail, /it is JSON text, not an archive/, 'lenient: the corrupt event says it too')
})

t.test('binary data and damage past byte 0 keep the bare reason', async (t) => {
  const binary = Buffer.from([0x01, 0x02, 0x7B, 0x00, 0xFF, 0x10, 0x20, 0x30, 0x40, 0x50])
  t.equal((await failure(binary, 1 << 16)).message, 'in.ndjson: at byte 0: bad-magic: expected beginning-of-record marker 84 78 86 69')
  const archive = encodeRecords([{ payload: 'one' }])
  const after = Buffer.concat([archive, Buffer.from('{"a":1}\n')])
  t.equal((await failure(after, 1 << 16)).message, `in.ndjson: at byte ${archive.length}: bad-magic: expected beginning-of-record marker 84 78 86 69`, 'text after a record is damage, not a foreign file')
  t.equal(describeForeignData(Buffer.from('   \n\t'), 0, 5), '', 'blank space alone says nothing')
})

t.test('an input shorter than a record\'s preamble that is not the start of one: not an archive, not "truncated"', async (t) => {
  const bad = 'in.ndjson: at byte 0: bad-magic: expected beginning-of-record marker 84 78 86 69'
  const cases: Array<[string, Buffer, string]> = [
    ['two letters', Buffer.from('hi'), `${bad}; it is text, not an archive (it begins 'hi')`],
    ['five letters', Buffer.from('hello'), `${bad}; it is text, not an archive (it begins 'hello')`],
    ['two binary bytes', Buffer.from([0x00, 0x01]), `${bad}; not an archive (2 bytes, too few for a record, and not the start of one)`],
    // The start of an archive, cut short: truncated, as before.
    ['a record\'s magic, cut', Buffer.from([0x84, 0x78, 0x86]), 'in.ndjson: at byte 0: truncated: input ends after 3 of the 6 bytes the record needs'],
    ['a gzip member\'s magic, cut', Buffer.from([0x1f]), 'in.ndjson: at byte 0: truncated: input ends after 1 of the 6 bytes the record needs'],
    ['a zstd frame\'s magic, cut', Buffer.from([0x28, 0xb5, 0x2f]), 'in.ndjson: at byte 0: truncated: input ends after 3 of the 6 bytes the record needs']
  ]
  for (const [name, bytes, message] of cases) {
    for (const chunk of [1 << 16, 1]) t.equal((await failure(bytes, chunk)).message, message, `${name}, chunks of ${chunk}`)
  }
})
