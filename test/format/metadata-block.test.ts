/**
 * lib/format/metadata-block.ts, the one module that knows the metadata
 * block's layout: what it writes and measures agrees with what it reads, for
 * both versions, ASCII or not; and the bytes the encoder writes for a block
 * are the format's, whichever path writes them.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import {
  measureFlat, measureMetadata, metadataBytes, readMetadata, writeMetadata, writeObjectMetadata, type MetadataSize
} from '../../lib/format/metadata-block.js'
import { V1_METADATA_OFFSET } from '../../lib/format/v1.js'
import { V2_METADATA_OFFSET } from '../../lib/format/v2.js'
import { ArchiveEncoder, type FormatVersion, type RecordInput } from '../../lib/index.js'
import { nativeRecords } from '../../lib/native.js'

const cases: Array<[string, Record<string, string>]> = [
  ['empty', {}],
  ['short ASCII', { a: 'b' }],
  ['long ASCII', { event: 'compute.instance.create.end', tenant: 'x'.repeat(300), host: 'compute-01' }],
  ['not ASCII', { 'clé': 'zoë ☃', emoji: '😀😀', plain: 'ok' }],
  ['empty strings', { '': '', k: '' }]
]

const flatOf = (m: Record<string, string>): string[] => Object.entries(m).flat()

for (const [name, metadata] of cases) {
  t.test(`${name}: written blocks read back, and their exact size is metadataBytes`, async (t) => {
    const flat = flatOf(metadata)
    for (const version of [1, 2] as const) {
      const size: MetadataSize = { pairs: 0, chars: 0, bound: 0 }
      measureMetadata(metadata, size)
      const buf = Buffer.alloc(16 + size.bound)
      const end = writeObjectMetadata(buf, 8, metadata, size, version)
      t.same(readMetadata(buf, 8, end, version, true), metadata, `v${version} object`)
      t.equal(end - 8, metadataBytes(metadata, flat, size), `v${version} object: metadataBytes is the size written`)
      t.equal(buf.readUInt32LE(8), version === 1 ? 4 * size.pairs : size.pairs, `v${version}: the count field`)

      const flatSize = measureFlat(flat, flat.length, { pairs: 0, chars: 0, bound: 0 })
      t.same(flatSize, size, `v${version}: measureFlat agrees with measureMetadata`)
      const buf2 = Buffer.alloc(16 + flatSize.bound)
      const end2 = writeMetadata(buf2, 8, flat, version)
      t.ok(buf2.subarray(8, end2).equals(buf.subarray(8, end)), `v${version}: flat and object give the same bytes`)
      t.equal(end2 - 8, metadataBytes(null, flat, flatSize), `v${version} flat: metadataBytes is the size written`)
      t.ok(flatSize.bound >= end2 - 8, `v${version}: the bound holds`)
    }
  })
}

/** The block as docs/FORMAT.md lays it out, built without the module: count, UTF-8 lengths, UTF-8 strings. */
function expectedBlock (flat: string[], version: 1 | 2): Buffer {
  const strings = flat.map((s) => Buffer.from(s, 'utf8'))
  const head = Buffer.alloc(4 + 4 * flat.length)
  head.writeUInt32LE(version === 1 ? 2 * flat.length : flat.length / 2, 0)
  strings.forEach((b, i) => head.writeUInt32LE(b.length, 4 + 4 * i))
  return Buffer.concat([head, ...strings])
}

const ascii64 = 'a'.repeat(64)
/** Every kind of string the writers tell apart: short or long (past 64 units, past 16 KiB), ASCII or not, and where the first non-ASCII unit is. */
const byteCases: Array<[string, Record<string, string>]> = [
  ['ASCII', { event: 'cart.add', request_id: 'req_4f03f7d31974dcea', generated: '2024-01-15T08:00:00.025Z' }],
  ['empty strings', { '': '', k: '' }],
  ['no pairs', {}],
  ['64 and 65 units', { [ascii64]: ascii64 + 'b', k: ascii64 }],
  ['long ASCII (> 16 KiB)', { long: 'x'.repeat(20_000), [('y'.repeat(17_000))]: 'v' }],
  ['not ASCII at the start, middle, end', { é: 'zoë', k: 'abc☃', ['€' + ascii64]: ascii64 + 'ß' }],
  ['astral (surrogate pairs), one split across the 64th unit', { e: '😀😀', k: 'a'.repeat(63) + '😀' + 'z' }],
  ['long not ASCII (> 16 KiB)', { k: 'é'.repeat(9000) + 'y'.repeat(9000), k2: 'x'.repeat(17_000) + '😀' }]
]

for (const [name, metadata] of byteCases) {
  t.test(`${name}: the block's bytes are the format's, from every writer and encoder path`, async (t) => {
    const flat = flatOf(metadata)
    for (const version of [1, 2] as const) {
      const expected = expectedBlock(flat, version)
      const size: MetadataSize = { pairs: 0, chars: 0, bound: 0 }
      measureMetadata(metadata, size)
      const buf = Buffer.alloc(3 + size.bound, 0xee)
      t.ok(buf.subarray(3, writeObjectMetadata(buf, 3, metadata, size, version)).equals(expected), `v${version}: writeObjectMetadata`)
      const buf2 = Buffer.alloc(3 + size.bound, 0xee)
      t.ok(buf2.subarray(3, writeMetadata(buf2, 3, flat, version)).equals(expected), `v${version}: writeMetadata`)
      const offset = version === 1 ? V1_METADATA_OFFSET : V2_METADATA_OFFSET
      const forms: Array<[string, RecordInput['metadata']]> = [['object', metadata], ['pairs', Object.entries(metadata)], ['Map', new Map(Object.entries(metadata))]]
      for (const native of [null, nativeRecords()]) {
        for (const [form, given] of forms) {
          const encoder = new ArchiveEncoder({ format: `v${version}` as FormatVersion }, { native })
          // After a record of other metadata, so that the block is not at the slab's start.
          encoder.write({ metadata: { before: 'it' }, payload: 'x' })
          const first = encoder.pendingBytes
          encoder.write({ metadata: given, payload: 'y' })
          const out = Buffer.concat(encoder.take())
          const what = `v${version}, ${form}, ${native === null ? 'without' : 'with'} the native functions`
          t.equal(out.readUInt32LE(first + (version === 1 ? 6 : 8)), expected.length, `${what}: the header's metadata length`)
          t.ok(out.subarray(first + offset, first + offset + expected.length).equals(expected), `${what}: the block`)
        }
      }
    }
  })
}

t.test('a whole encoding of these blocks, byte for byte as before the strings were written in JS', async (t) => {
  // sha256 of this output from the encoder that joined a record's (or a slab's) strings for one native
  // write (the build before this test, with and without the native part, which agreed): any byte changed fails here.
  for (const native of [null, nativeRecords()]) {
    for (const format of ['v1', 'v2'] as const) {
      const encoder = new ArchiveEncoder({ format, chunkSize: 4096 }, { native })
      const parts: Buffer[] = []
      for (let i = 0; i < 100; i++) {
        const [, metadata] = byteCases[i % byteCases.length]
        encoder.write({ metadata: i % 3 === 0 ? Object.entries(metadata) : metadata, payload: `p${i}` })
        if (i % 7 === 0) parts.push(...encoder.take())
      }
      parts.push(...encoder.take())
      const hash = createHash('sha256').update(Buffer.concat(parts)).digest('hex')
      t.equal(hash, GOLDEN[format], `${format}, ${native === null ? 'without' : 'with'} the native functions`)
    }
  }
})

const GOLDEN = {
  v1: 'd188c6e48e1bc65a38d001995724872e190dbfbff2300facd9607f0c3b283aab',
  v2: '9a48a865f46f3668104301c43ac8aa371c409689c0c5c7b2a226a652b09a8e0c'
}

const reason = (unit: string, at: number): string => `a lone surrogate (\\${unit} at character ${at}), which UTF-8 cannot hold (it would be written as U+FFFD)`
const loneCases: Array<[string, Record<string, string>, string]> = [
  ['a value of one lone unit', { k: '\ud800' }, `metadata value of "k" has ${reason('ud800', 0)}`],
  ['a key starting with a second half', { '\udc00x': 'v' }, `metadata key "\\udc00x" has ${reason('udc00', 0)}`],
  ['a first half at the end of a key, a second half starting its value', { ['a\ud83d']: '\ude00' }, `metadata key "a\\ud83d" has ${reason('ud83d', 1)}`],
  ['a first half ending a value, a second half starting the next key', { a: 'x\ud83d', ['\ude00']: 'v' }, `metadata value of "a" has ${reason('ud83d', 1)}`],
  ['past 64 units', { k: ascii64 + '\udfff' }, `metadata value of "k" has ${reason('udfff', 64)}`],
  ['past 16 KiB, after non-ASCII', { k: 'é'.repeat(20_000) + '\ud800z' }, `metadata value of "k" has ${reason('ud800', 20_000)}`]
]

t.test('a lone surrogate in metadata is refused, naming the string, and nothing of the record is written', async (t) => {
  for (const [name, metadata, message] of loneCases) {
    for (const native of [null, nativeRecords()]) {
      for (const format of ['v1', 'v2'] as const) {
        for (const given of [metadata, Object.entries(metadata)]) {
          const encoder = new ArchiveEncoder({ format }, { native })
          encoder.write({ metadata: { ok: 'one' }, payload: 'a' })
          const before = encoder.pendingBytes
          const what = `${name} (${format}, ${Array.isArray(given) ? 'pairs' : 'object'}, ${native === null ? 'without' : 'with'} the native functions)`
          t.throws(() => { encoder.write({ metadata: given, payload: 'b' }) },
            { code: 'SHOEBOX_INVALID_RECORD', message: `record 1: ${message}; not written (the records before it are)` }, what)
          t.equal(encoder.pendingBytes, before, `${what}: nothing of it written`)
          encoder.write({ metadata: { ok: 'two' }, payload: 'c' })
          t.equal(Buffer.concat(encoder.take()).length, 2 * before, `${what}: the next record written in its place`)
        }
      }
    }
  }
})
