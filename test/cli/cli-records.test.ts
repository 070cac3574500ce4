/**
 * `shoebox read A | shoebox write B --records` (and `decode | encode --records`) copies records, not lines: every
 * record keeps its metadata and its payload's bytes. With read --exact, a legacy archive is made again byte for
 * byte; through a real shell pipe, gzip files become zstd files of the same records; without --records, write
 * says once what it is doing with such lines, and does it.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { encodeRecords, type RecordInput, type ShoeboxRecord } from '../../lib/index.js'
import { cli, jsonLines } from '../cli-run.js'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'
import { archiveEntries, decodeRecords, listVectorDir, readVector, vectorDir, vectorSkip } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

const run = promisify(execFile)

t.test('legacy vectors: decode --exact | encode --records --format v1 is the archive again, byte for byte', { skip: vectorSkip }, async (t) => {
  for (const entry of archiveEntries()) {
    const archive = readVector(entry.file)
    const lines = await cli(['decode', '--exact', path.join(vectorDir, entry.file)])
    t.equal(lines.code, 0)
    const again = await cli(['encode', '--records', '--format', 'v1'], lines.stdout)
    t.equal(again.stderr, '', `${entry.file}: nothing on stderr`)
    t.ok(again.stdout.equals(archive), `${entry.file}: ${archive.length} bytes, the same`)
  }
  // Without --exact the metadata is an object and the payloads lose their spaces: the same records as JSON, not the same bytes.
  const plain = await cli(['encode', '--records', '--format', 'v1'], (await cli(['decode', path.join(vectorDir, 'small.shoebox')])).stdout)
  t.not(plain.stdout.equals(readVector('small.shoebox')), true, 'read\'s default lines take the spaces out of json.dumps\'s payloads')
  t.same(jsonLines((await cli(['decode'], plain.stdout)).stdout), jsonLines((await cli(['decode', path.join(vectorDir, 'small.shoebox')])).stdout), 'the same records as read prints them')
})

t.test('legacy rolled files: read --exact over the glob | encode --records is the files one after another', { skip: vectorSkip }, async (t) => {
  const names = listVectorDir('rolled').filter((n) => n.endsWith('.shoebox')).sort()
  const lines = await cli(['read', '--exact', path.join(vectorDir, 'rolled', '*.shoebox')])
  t.equal(lines.code, 0)
  const again = await cli(['encode', '--records', '--format', 'v1'], lines.stdout)
  t.ok(again.stdout.equals(Buffer.concat(names.map((n) => readVector(path.join('rolled', n))))), `${names.length} files, 10,000 records, the same bytes`)
})

/** Records with what a line must carry exactly: unicode, an empty payload, odd keys, bytes, JSON with spaces. */
const records: RecordInput[] = [
  { metadata: { event: 'order.paid', 'kéy': '日本 😀' }, payload: Buffer.from('{"id": 1, "note": "héllo"}') },
  { metadata: [['', 'empty key'], ['__proto__', 'p'], ['b', '1'], ['10', 'ten'], ['k', '1'], ['k', '2']] as Array<[string, string]>, payload: Buffer.alloc(0) },
  { metadata: [[Buffer.from([0xff, 0xfe]), Buffer.from('not UTF-8')]] as Array<[Buffer, Buffer]>, payload: Buffer.from([0, 10, 13, 0xff]) },
  { metadata: {}, payload: Buffer.from('{\n  "pretty": [1, 2]\n}\n') }
]

async function rawRecords (bytes: Buffer): Promise<Array<{ pairs: string[][], payload: string }>> {
  return (await decodeRecords(bytes, { rawMetadata: true })).map((r: ShoeboxRecord) => ({
    pairs: (r.rawMetadata ?? []).map(([k, v]) => [k.toString('base64'), v.toString('base64')]),
    payload: r.payload.toString('base64')
  }))
}

t.test('gzip files to zstd through a shell pipe: read --exact | write --records --zstd keeps every record whole', async (t) => {
  const dir = tempDir(t, 'cli-records-')
  const archive = encodeRecords(records)
  const old = path.join(dir, 'old')
  const written = await cli(['write', old, '--gzip', '--records', '--roll-records', '2'], (await cli(['decode', '--exact'], archive)).stdout)
  t.equal(written.code, 0, written.stderr)
  t.equal(fs.readdirSync(old).filter((n) => n.endsWith('.shoebox.gz')).length, 2, 'two gzip files')
  const bin = cliBinary()
  const script = '"$NODE" "$BIN" read "$OLD/*.gz" --exact | "$NODE" "$BIN" write "$NEW" --records --zstd'
  const piped = await run('/bin/sh', ['-c', script], { env: cliEnv({ NODE: process.execPath, BIN: bin, OLD: old, NEW: path.join(dir, 'new') }) })
  t.match(piped.stderr, /^shoebox write: 4 records, 1 file sealed, /, 'one summary line, no hint')
  const files = fs.readdirSync(path.join(dir, 'new')).filter((n) => !n.startsWith('.'))
  t.same(files.map((n) => n.endsWith('.shoebox.zst')), [true], 'one zstd file')
  const copied = fs.readFileSync(path.join(dir, 'new', files[0]))
  t.same(copied.subarray(0, 4), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 'zstd, by its magic')
  // --exact lines say every metadata byte and payload byte: the same lines are the same records.
  const copiedLines = (await cli(['decode', '--exact'], copied)).stdout.toString()
  t.equal(copiedLines, (await cli(['decode', '--exact'], archive)).stdout.toString(), 'the same metadata pairs and payload bytes')
  t.same(await rawRecords(Buffer.from((await cli(['encode', '--records'], copiedLines)).stdout)), await rawRecords(archive), 'and they make the same records')
})

t.test('write without --records says once what it does with read\'s lines, and does it', async (t) => {
  const dir = tempDir(t, 'cli-records-')
  const lines = (await cli(['decode'], encodeRecords([{ metadata: { k: 'v' }, payload: '{"a":1}' }, { metadata: { k: 'w' }, payload: '{"a":2}' }]))).stdout
  const r = await cli(['write', path.join(dir, 'out')], lines)
  t.equal(r.code, 0, 'never a failure: such lines may be meant as payloads')
  const hints = r.stderr.split('\n').filter((l) => l.includes('looks like'))
  t.same(hints, ['shoebox write: stdin\'s first line looks like shoebox read\'s output ({"metadata":...}): each line is stored whole as one record\'s payload, the metadata it gives not as metadata; --records writes each back as the record it was'])
  const file = fs.readdirSync(path.join(dir, 'out')).filter((n) => !n.startsWith('.'))[0]
  const stored = await decodeRecords(fs.readFileSync(path.join(dir, 'out', file)))
  t.same(stored.map((s) => s.payload.toString()), lines.toString().split('\n').filter((l) => l !== ''), 'each line a payload, whole, as asked')
  const e = await cli(['encode'], lines)
  t.match(e.stderr, /^shoebox encode: stdin's first line looks like shoebox read's output/, 'encode says it too')
  t.equal(e.code, 0)
  const plain = await cli(['encode'], '{"event":"x"}\n')
  t.equal(plain.stderr, '', 'nothing for other lines')
})

t.test('write --records: a line that is no record ends the input, every line before it sealed, named in one line', async (t) => {
  const dir = tempDir(t, 'cli-records-')
  const good = '{"metadata":{"k":"v"},"payload":{"a":1}}\n'
  const r = await cli(['write', path.join(dir, 'out'), '--records'], `${good}${good}{"event":"x"}\n${good}`)
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox write: stdin: line 3: a record line has no field "event" \(only "metadata" and "payload"/)
  t.match(r.stderr, /; 1 file sealed \(2 records\) in /)
  const file = fs.readdirSync(path.join(dir, 'out')).filter((n) => !n.startsWith('.'))[0]
  t.same((await decodeRecords(fs.readFileSync(path.join(dir, 'out', file)))).map((s) => [s.metadata, s.payload.toString()]), [[{ k: 'v' }, '{"a":1}'], [{ k: 'v' }, '{"a":1}']])
})

t.test('encode --records: --on-invalid fail names the line and what was written; skip lists it and goes on', async (t) => {
  const good = '{"metadata":{"k":"v"},"payload":"aGk=","payloadEncoding":"base64"}\n'
  const input = `${good}{"metadata":{},"payload":"@@","payloadEncoding":"base64"}\n${good}`
  const failed = await cli(['encode', '--records'], input)
  t.equal(failed.code, 1)
  t.equal(failed.stderr, 'shoebox encode: stdin: line 2: "payload" is not base64: "@@" (1 record written before it)\n')
  t.same((await decodeRecords(failed.stdout)).map((r) => r.payload.toString()), ['hi'])
  const skipped = await cli(['encode', '--records', '--on-invalid', 'skip'], input)
  t.equal(skipped.code, 0)
  t.equal(skipped.stderr, 'shoebox encode: skipped stdin line 2: "payload" is not base64: "@@"\nshoebox encode: 2 records written, 1 invalid line skipped\n')
  t.equal((await decodeRecords(skipped.stdout)).length, 2)
})

t.test('usage errors: --records with flags that give metadata or check lines, --exact with --payload-only', async (t) => {
  const dir = tempDir(t, 'cli-records-')
  for (const [args, message] of [
    [['encode', '--records', '--meta', 'a=b'], 'shoebox encode: --records and --meta: choose one (with --records each record keeps the metadata its line gives, and every line is checked)'],
    [['encode', '--records', '--validate', '--meta-from-field', 'x'], 'shoebox encode: --records and --meta-from-field, --validate: choose one (with --records each record keeps the metadata its line gives, and every line is checked)'],
    [['write', path.join(dir, 'w'), '--records', '--meta', 'a=b'], 'shoebox write: --records and --meta: choose one (with --records each record keeps the metadata its line gives, and every line is checked)'],
    [['decode', '--exact', '--payload-only'], 'shoebox decode: --exact and --payload-only: choose one (--payload-only prints no metadata)'],
    [['read', path.join(dir, '*'), '--exact', '--payload-only'], 'shoebox read: --exact and --payload-only: choose one (--payload-only prints no metadata)']
  ] as Array<[string[], string]>) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.equal(r.stderr.split('\n')[0], message)
  }
  t.notOk(fs.existsSync(path.join(dir, 'w')), 'a refused write makes no directory')
})

t.test('decode --exact: the JSON payload as written, or a utf8 string where a line could not hold it so', async (t) => {
  const r = await cli(['decode', '--exact'], encodeRecords(records))
  const out = r.stdout.toString().split('\n')
  t.equal(out[0], '{"metadata":[["event","order.paid"],["kéy","日本 😀"]],"payload":{"id": 1, "note": "héllo"}}')
  t.equal(out[3], '{"metadata":[],"payload":"{\\n  \\"pretty\\": [1, 2]\\n}\\n","payloadEncoding":"utf8"}')
  const plain = await cli(['decode'], encodeRecords(records))
  t.equal(plain.stdout.toString().split('\n')[0], '{"metadata":{"event":"order.paid","kéy":"日本 😀"},"payload":{"id":1,"note":"héllo"}}', 'the default output is as it was')
})

/** A record of `payload` with metadata `flat` whose payload is padded with `fill` to exactly `size` bytes. */
function recordOfSize (size: number, metadata: RecordInput['metadata'], fill: number): RecordInput {
  const overhead = encodeRecords([{ metadata, payload: Buffer.alloc(0) }]).length
  return { metadata, payload: Buffer.alloc(size - overhead, fill) }
}

t.test('a record of exactly --max-record-size comes back: its line is longer than the record (base64, escapes)', async (t) => {
  const limit = 4096
  const control = '\u0001'.repeat(500)
  const atLimit = [
    recordOfSize(limit, { k: 'v' }, 0xff), // binary: a base64 line, 4/3 of it
    recordOfSize(limit, { [control]: control }, 0x01), // control characters: each one "\u0001", 6 bytes
    recordOfSize(limit, [[Buffer.from([0xff]), Buffer.alloc(0)]] as Array<[Buffer, Buffer]>, 0x22) // base64 metadata, a payload of '"'
  ]
  const archive = encodeRecords(atLimit)
  t.equal(archive.length, 3 * limit, 'three records of exactly the limit')
  const lines = await cli(['decode', '--exact', '--max-record-size', String(limit)], archive)
  t.equal(lines.code, 0, lines.stderr)
  t.ok(lines.stdout.toString().split('\n').every((line) => line.length < 6 * limit), 'no line longer than six times the record')
  const again = await cli(['encode', '--records', '--max-record-size', String(limit)], lines.stdout)
  t.equal(again.stderr, '')
  t.equal(again.code, 0)
  t.ok(again.stdout.equals(archive), 'the same archive, byte for byte')
  const dir = tempDir(t, 'cli-records-')
  const written = await cli(['write', path.join(dir, 'out'), '--records', '--max-record-size', String(limit)], lines.stdout)
  t.equal(written.code, 0, written.stderr)
  const files = fs.readdirSync(path.join(dir, 'out')).filter((n) => !n.startsWith('.'))
  t.ok(fs.readFileSync(path.join(dir, 'out', files[0])).equals(archive), 'write seals the same bytes')
  // One byte more is a record over the limit: refused by its size, naming the line, not by the line's length.
  const over = await cli(['encode', '--records', '--max-record-size', String(limit - 1)], lines.stdout)
  t.equal(over.code, 1)
  t.match(over.stderr, /^shoebox encode: stdin: line 1: .*4096.*4095.* \(0 records written before it\)\n$/)
})
