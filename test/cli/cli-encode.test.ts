/**
 * shoebox encode: flags that would do nothing are usage errors, --validate
 * refuses lines that are not UTF-8, and --checksum crc32c is what it says.
 * The library side of the same rules (encodeNdjson, ArchiveEncoder) too.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  ArchiveEncoder, crc32c, encode, encodeNdjson, encodeRecords, readRecord, type EncodeNdjsonOptions, type InvalidLine
} from '../../lib/index.js'
import { cli, jsonLines } from '../cli-run.js'
import { chunked, decodeRecords } from '../helpers.js'

t.test('--on-invalid without a parse is a usage error naming the flags', async (t) => {
  for (const value of ['skip', 'fail']) {
    const r = await cli(['encode', '--on-invalid', value], '{"a":1}\nnot json\n')
    t.equal(r.code, 2, `--on-invalid ${value}: exit 2`)
    t.equal(r.stdout.length, 0, 'nothing written')
    t.match(r.stderr, /^shoebox encode: --on-invalid needs --validate \(or --meta-from-field or --records, which parse each line\)\n/)
  }
  // --meta-from-field parses each line, so --on-invalid decides what a bad one does.
  const lifted = await cli(['encode', '--meta-from-field', 'k', '--on-invalid', 'skip'], '{"k":"x"}\nnot json\n{"k":"y"}\n')
  t.equal(lifted.code, 0)
  t.match(lifted.stderr, /skipped stdin line 2: invalid JSON/)
  t.same((await decodeRecords(lifted.stdout)).map((r) => r.metadata.k), ['x', 'y'])
  const failing = await cli(['encode', '--meta-from-field', 'k', '--on-invalid', 'fail'], '{"k":"x"}\nnot json\n')
  t.equal(failing.code, 1)
  t.match(failing.stderr, /stdin: line 2: invalid JSON: .* \(1 record written before it\)/)
})

t.test('a line too long: every line before it written, one line naming it and counting them, exit 1', async (t) => {
  const r = await cli(['encode', '--max-record-size', '1KiB'], '{"a":1}\n' + 'x'.repeat(2000) + '\n{"b":2}\n')
  t.equal(r.code, 1)
  t.equal(r.stderr, 'shoebox encode: stdin: line 2: longer than 992 bytes, the longest line a record of --max-record-size 1024 holds (raise --max-record-size) (1 record written before it)\n')
  t.same((await decodeRecords(r.stdout)).map((rec) => rec.payload.toString()), ['{"a":1}'])
})

t.test('--checksum with --format v1 is a usage error; the library refuses it too', async (t) => {
  for (const checksum of ['crc32c', 'crc32']) {
    const r = await cli(['encode', '--format', 'v1', '--checksum', checksum], '{"a":1}\n')
    t.equal(r.code, 2, `--checksum ${checksum}: exit 2`)
    t.equal(r.stdout.length, 0)
    t.match(r.stderr, /^shoebox encode: --checksum applies to --format v2 only/)
  }
  t.throws(() => new ArchiveEncoder({ format: 'v1', checksum: 'crc32c' }), { code: 'SHOEBOX_INVALID_OPTION', message: /option checksum: v1 records carry no checksum/ })
  t.throws(() => encode({ format: 'v1', checksum: 'crc32c' }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => encodeNdjson({ format: 'v1', checksum: 'crc32c' }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => encodeRecords([], { format: 'v1', checksum: 'crc32c' }), { code: 'SHOEBOX_INVALID_OPTION' })
  // The default checksum with v1 is no request for one (options shared with v2 writers).
  t.equal(encodeRecords([{ payload: 'x' }], { format: 'v1', checksum: 'crc32' }).length, 27)
})

/** Lines that are JSON once their bytes are read as UTF-8 with replacement, and not UTF-8. */
const notUtf8: Array<[string, Buffer]> = [
  ['0xff inside a string', Buffer.concat([Buffer.from('{"a":"x'), Buffer.from([0xff]), Buffer.from('y"}')])],
  ['a truncated 3-byte sequence inside a string', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')])],
  ['an overlong "/" inside a string', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])],
  ['an encoded surrogate inside a string', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])],
  ['a continuation byte at the end of the line', Buffer.concat([Buffer.from('{"a":1} '), Buffer.from([0x80])])]
]

async function ndjson (chunks: Buffer[], options: EncodeNdjsonOptions): Promise<{ payloads: Buffer[], invalid: InvalidLine[] }> {
  const stage = encodeNdjson(options)
  const invalid: InvalidLine[] = []
  stage.on('invalid', (info: InvalidLine) => invalid.push(info))
  const out: Buffer[] = []
  await pipeline(Readable.from(chunks), stage, async (s: AsyncIterable<Buffer>) => {
    for await (const b of s) out.push(Buffer.from(b))
  })
  return { payloads: (await decodeRecords(Buffer.concat(out))).map((r) => Buffer.from(r.payload)), invalid }
}

t.test('validate: a line that is not UTF-8 is invalid, whole or split across chunks', async (t) => {
  const good = Buffer.from('{"s":"é世📦"}')
  for (const [name, bad] of notUtf8) {
    const input = Buffer.concat([good, Buffer.from('\n'), bad, Buffer.from('\n'), good, Buffer.from('\n')])
    for (const size of [1, 2, 3, 7, input.length]) {
      const { payloads, invalid } = await ndjson(chunked(input, size), { validate: true, onInvalid: 'skip', source: 'in' })
      t.same(payloads, [good, good], `${name}, chunks of ${size}: skipped; the valid multi-byte lines around it kept`)
      t.same(invalid, [{ source: 'in', line: 2, message: 'not valid UTF-8', code: 'SHOEBOX_INVALID_JSON' }], `${name}, chunks of ${size}: reported`)
    }
  }
  // Without --validate bytes are bytes: nothing is parsed, nothing refused.
  const raw = await ndjson([notUtf8[0][1]], {})
  t.same(raw.payloads, [notUtf8[0][1]])
})

t.test('encode --validate refuses a line that is not UTF-8, naming it', async (t) => {
  const input = Buffer.concat([Buffer.from('{"ok":1}\n'), notUtf8[0][1], Buffer.from('\n{"ok":2}\n')])
  const r = await cli(['encode', '--validate'], input)
  t.equal(r.code, 1)
  t.equal(r.stderr, 'shoebox encode: stdin: line 2: invalid JSON: not valid UTF-8 (1 record written before it)\n')
  t.same((await decodeRecords(r.stdout)).map((rec) => rec.payload.toString()), ['{"ok":1}'])
})

t.test('encode --checksum crc32c writes CRC32C records that decode verifies', async (t) => {
  const lines = ['{"i":0}', '{"s":"é世📦"}', '{"big":"' + 'z'.repeat(5000) + '"}']
  const r = await cli(['encode', '--checksum', 'crc32c'], lines.join('\n') + '\n')
  t.equal(r.code, 0)
  const archive = r.stdout
  let at = 0
  let count = 0
  while (at < archive.length) {
    const found = readRecord(archive, at, archive.length, 1 << 20)
    if (found.kind !== 'record') throw new Error(`no record at ${at}`)
    t.equal(archive[at + 6], 2, `record ${count}: checksum byte says CRC32C`)
    const end = at + found.size
    t.equal(archive.readUInt32LE(end - 4), crc32c(archive.subarray(at, end - 4)), `record ${count}: its trailer is the CRC32C of the record`)
    at = end
    count++
  }
  t.equal(count, 3)
  const back = await cli(['decode', '--payload-only'], archive)
  t.equal(back.code, 0)
  t.same(jsonLines(back.stdout), lines.map((l) => JSON.parse(l) as unknown))

  const damaged = Buffer.from(archive)
  const where = damaged.indexOf('zzzz')
  damaged[where] ^= 0x01
  const bad = await cli(['decode', '--payload-only'], damaged)
  t.equal(bad.code, 1, 'a flipped payload byte is caught')
  t.match(bad.stderr, /bad-checksum: record checksum does not match/)
  t.same(jsonLines(bad.stdout), lines.slice(0, 2).map((l) => JSON.parse(l) as unknown), 'the records before it are printed')
})

t.test('--meta and --meta-from-field keys named like Object.prototype members are ordinary keys', async (t) => {
  const r = await cli(['encode', '--meta', '__proto__=m', '--meta-from-field', 'constructor', '--meta-from-field', 'p=__proto__', '--meta-from-field', 'q=a.toString'],
    '{"a":{}}\n{"constructor":"x","__proto__":"p","a":{"toString":"s"}}\n')
  t.equal(r.code, 0, r.stderr)
  const metadata = (await decodeRecords(r.stdout)).map((rec) => ({ ...rec.metadata }))
  // a line without the field has none (not Object's `constructor` or `toString`)
  t.same(metadata, [JSON.parse('{"__proto__":"m"}'), JSON.parse('{"__proto__":"m","constructor":"x","p":"p","q":"s"}')])
  t.ok(metadata.every((m) => Object.hasOwn(m, '__proto__')), '__proto__ is a key of every record')
})
