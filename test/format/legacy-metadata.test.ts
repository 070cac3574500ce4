/**
 * Legacy metadata that a plain object cannot carry: v1 records built byte
 * for byte as the original shoebox's spec (../shared/specs/shoebox-v1.md
 * §2.2) allows them, with array-index keys out of numeric order, a key held
 * twice, and keys and values that are not UTF-8. What the original reader
 * would make of a rewrite is checked with a reader written from §3: a dict
 * of byte strings, the last of a repeated key kept, order ignored.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { archiveSource, decode, encode, encodeRecords, type RecordInput, type ShoeboxRecord } from '../../lib/index.js'
import { archiveEntries, chunked, decodeRecords, readVector, vectorSkip } from '../helpers.js'
import { originalReads, v1Record, type Text } from '../fixtures-read/legacy-record.js'
import { tempDir } from '../temp-dir.js'
import fs from 'node:fs'
import path from 'node:path'

const PAYLOAD = Buffer.from('{"n":1}')
const cases: Array<{ name: string, pairs: Array<[Text, Text]> }> = [
  { name: 'array-index keys out of numeric order', pairs: [['zeta', 'z'], ['7', 'seven'], ['alpha', 'a'], ['404', 'x'], ['07', 'not an index']] },
  { name: 'a key held twice', pairs: [['k', 'first'], ['other', 'o'], ['k', 'last']] },
  { name: 'keys and values that are not UTF-8', pairs: [[Buffer.from([0xff]), 'a'], [Buffer.from([0xfe]), 'b'], ['latin1', Buffer.from('caf\xe9', 'latin1')]] },
  { name: 'all three, and NUL', pairs: [['2', 'two'], ['k', '1'], [Buffer.from([0x80, 0x00]), Buffer.from([0xc3])], ['1', 'one'], ['k', '2']] }
]

/** Decode with `options`, then encode the records made of each by `rewrite`, as v1. */
async function rewrite (archive: Buffer, options: { rawMetadata?: boolean }, rewritten: (r: ShoeboxRecord) => RecordInput): Promise<Buffer> {
  const parts: Buffer[] = []
  await pipeline(Readable.from(chunked(archive, 7)), decode(options), async function * (records) {
    for await (const r of records) yield rewritten(r as ShoeboxRecord)
  }, encode({ format: 'v1' }), async function (bytes) { for await (const b of bytes) parts.push(b as Buffer) })
  return Buffer.concat(parts)
}

t.test('the metadata object: what the original reader reads back of a rewrite', async (t) => {
  for (const c of cases) {
    const archive = v1Record(c.pairs, PAYLOAD)
    const again = await rewrite(archive, {}, (r) => ({ metadata: r.metadata, payload: r.payload }))
    const utf8 = !c.pairs.flat().some((s) => typeof s !== 'string')
    // Order is not the original reader's to see, and of a repeated key it keeps the last: the object carries those.
    // Bytes that are not UTF-8 it cannot: they read as U+FFFD (two such keys become one). rawMetadata is for that.
    if (utf8) t.same(originalReads(again), originalReads(archive), `${c.name}: the same dict`)
    else t.not(JSON.stringify(originalReads(again)), JSON.stringify(originalReads(archive)), `${c.name}: not the same dict (the README says so)`)
  }
  const [record] = await decodeRecords(v1Record(cases[0].pairs, PAYLOAD))
  t.same(Object.keys(record.metadata), ['7', '404', 'zeta', 'alpha', '07'], 'array-index keys come first, as a JavaScript object lists them')
  const [twice] = await decodeRecords(v1Record(cases[1].pairs, PAYLOAD))
  t.same(twice.metadata, { k: 'last', other: 'o' }, 'a key held twice: its last value, as the original reader keeps')
})

t.test('rawMetadata: the pairs as stored, which encode() writes back byte for byte', async (t) => {
  for (const c of cases) {
    const archive = v1Record(c.pairs, PAYLOAD)
    const [record] = await decodeRecords(chunked(archive, 3), { rawMetadata: true })
    t.same(record.rawMetadata, c.pairs.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]), `${c.name}: every pair, in order, as bytes`)
    const again = await rewrite(archive, { rawMetadata: true }, (r) => ({ metadata: r.rawMetadata, payload: r.payload }))
    t.equal(again.toString('hex'), archive.toString('hex'), `${c.name}: rewritten byte for byte`)
    t.same(originalReads(again), originalReads(archive), `${c.name}: so the original reads the same dict`)
    // Through v2 and back: the same pairs.
    const v2 = encodeRecords([{ metadata: record.rawMetadata, payload: record.payload }])
    const [back] = await decodeRecords(v2, { rawMetadata: true })
    t.same(back.rawMetadata, record.rawMetadata, `${c.name}: the same pairs through a v2 record`)
  }
  const [plain] = await decodeRecords(v1Record(cases[0].pairs, PAYLOAD))
  t.equal(plain.rawMetadata, undefined, 'not there unless asked for')
  t.throws(() => decode({ rawMetadata: 'yes' as unknown as boolean }), { code: 'SHOEBOX_INVALID_OPTION', message: /option rawMetadata: must be true or false/ })
})

t.test('encoders take bytes in [key, value] pairs only, and text stays checked', async (t) => {
  t.throws(() => encodeRecords([{ metadata: { k: Buffer.from('v') as unknown as string }, payload: '' }]), { code: 'SHOEBOX_INVALID_RECORD', message: /metadata value of "k" must be a string, got bytes/ })
  t.throws(() => encodeRecords([{ metadata: [[Buffer.from([0xff]), '\ud800']], payload: '' }]), { code: 'SHOEBOX_INVALID_RECORD', message: /metadata value of the key given as bytes ff has a lone surrogate/ })
  t.equal(encodeRecords([{ metadata: [[new Uint8Array([0x6b]), 'v']], payload: '' }], { format: 'v1' }).toString('hex'),
    v1Record([['k', 'v']], Buffer.alloc(0)).toString('hex'), 'a Uint8Array key is its bytes')
})

t.test('archiveSource({ rawMetadata }) hands the pairs on', async (t) => {
  const dir = tempDir(t, 'legacy-metadata-')
  const archive = Buffer.concat(cases.map((c) => v1Record(c.pairs, PAYLOAD)))
  fs.writeFileSync(path.join(dir, 'a.shoebox'), archive)
  const records: ShoeboxRecord[] = []
  for await (const r of archiveSource(path.join(dir, '*.shoebox'), { rawMetadata: true })) records.push(r)
  t.same(records.map((r) => r.rawMetadata), cases.map((c) => c.pairs.map(([k, v]) => [Buffer.from(k), Buffer.from(v)])), 'each record\'s pairs')
  t.same(records.map((r) => r.position), cases.map(() => undefined), 'no positions, none asked for')
  t.equal(encodeRecords(records.map((r) => ({ metadata: r.rawMetadata, payload: r.payload })), { format: 'v1' }).toString('hex'), archive.toString('hex'), 'rewritten byte for byte')
  t.throws(() => archiveSource(path.join(dir, '*'), { rawMetadata: true, positions: [{ file: 'a.shoebox', offset: 0 }] }), { code: 'SHOEBOX_INVALID_OPTION', message: /option rawMetadata: is not available with a list of positions/ })
})

t.test('every archive the original wrote (shared vectors) is copied byte for byte through rawMetadata', { skip: vectorSkip }, async (t) => {
  for (const { file } of archiveEntries()) {
    const archive = readVector(file)
    const again = await rewrite(archive, { rawMetadata: true }, (r) => ({ metadata: r.rawMetadata, payload: r.payload }))
    t.ok(again.equals(archive), `${file}: the same ${archive.length} bytes`)
  }
})
