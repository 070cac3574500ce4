/**
 * `shoebox decode --raw-metadata` and `shoebox read --raw-metadata`: a legacy
 * archive's metadata as stored (array-index keys where they stood, a key held
 * twice, bytes that are not UTF-8), which the object form of a line cannot
 * say; and the pairs a line gives, written back, make the archive again.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { encodeRecords, recordJson } from '../../lib/index.js'
import { cli, jsonLines } from '../cli-run.js'
import { originalReads, v1Record } from '../fixtures-read/legacy-record.js'
import { tempDir } from '../temp-dir.js'

const text = v1Record([['zeta', 'z'], ['7', 'seven'], ['k', '1'], ['k', '2']], Buffer.from('{"a": 1}'))
const bytes = v1Record([[Buffer.from([0xff]), 'x'], [Buffer.from([0xfe]), Buffer.from([0xc3, 0x00])]], Buffer.from('{}'))
const archive = Buffer.concat([text, bytes])

interface Line { metadata: unknown, metadataEncoding?: string, payload: unknown }

/** A --raw-metadata line's pairs as bytes, as a reader of the NDJSON takes them back. */
function pairsOf (line: Line): Array<[Buffer, Buffer]> {
  const encoding = line.metadataEncoding === 'base64' ? 'base64' : 'utf8'
  return (line.metadata as Array<[string, string]>).map(([k, v]) => [Buffer.from(k, encoding), Buffer.from(v, encoding)])
}

t.test('decode and read --raw-metadata print the pairs as stored', async (t) => {
  const dir = tempDir(t, 'cli-raw-metadata-')
  const file = path.join(dir, 'legacy.shoebox')
  fs.writeFileSync(file, archive)
  for (const args of [['decode', '--raw-metadata', file], ['read', '--raw-metadata', path.join(dir, '*.shoebox')], ['decode', '--raw-metadata']]) {
    const r = await cli(args, args.length === 2 ? archive : '')
    t.equal(r.stderr, '', `${args[0]}: nothing on stderr`)
    t.equal(r.code, 0)
    const lines = jsonLines(r.stdout) as Line[]
    t.same(lines[0], { metadata: [['zeta', 'z'], ['7', 'seven'], ['k', '1'], ['k', '2']], payload: { a: 1 } }, `${args.join(' ')}: text pairs in their order, a key held twice twice`)
    t.same(lines[1], { metadata: [['/w==', 'eA=='], ['/g==', 'wwA=']], metadataEncoding: 'base64', payload: {} }, `${args.join(' ')}: bytes that are not UTF-8 as base64, said so`)
    const again = encodeRecords(lines.map((line) => ({ metadata: pairsOf(line), payload: JSON.stringify(line.payload) })), { format: 'v1' })
    t.same(originalReads(again), originalReads(archive), `${args.join(' ')}: written back, the original reader reads the same metadata`)
  }
  const plain = jsonLines((await cli(['decode', file])).stdout) as Line[]
  t.same(plain.map((l) => l.metadata), [{ 7: 'seven', zeta: 'z', k: '2' }, { '\ufffd': '\ufffd\u0000' }], 'without it: the object form, which loses the second record\'s bytes and a key')
})

t.test('--raw-metadata with --payload-only is a usage error', async (t) => {
  const r = await cli(['decode', '--raw-metadata', '--payload-only'], archive)
  t.equal(r.code, 2)
  t.match(r.stderr, /^shoebox decode: --raw-metadata and --payload-only: choose one/)
})

t.test('recordJson() prints a record\'s rawMetadata as its pairs', async (t) => {
  t.equal(recordJson({ metadata: {}, payload: Buffer.from('1'), rawMetadata: [[Buffer.from('k'), Buffer.from('v')]] }), '{"metadata":[["k","v"]],"payload":1}')
})
