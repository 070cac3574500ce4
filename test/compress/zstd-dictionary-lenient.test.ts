/**
 * A zstd frame that needs a dictionary (`zstd -D`, made here by the `zstd`
 * command) is sound: shoebox lacks the dictionary. Strict, a read refuses it
 * with SHOEBOX_UNSUPPORTED naming the file, after the records before it.
 * Lenient, it is skipped and reported as unsupported, not as damage: the
 * `corrupt` event says reason 'unsupported' and `needsDictionary: true`, its
 * offset and length in compressed bytes, and the CLI's line says the frame
 * needs a zstd dictionary, not that its bytes are damaged. The frames after it
 * are read.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import t from 'tap'
import { archiveSource, decode, encodeRecords, zstdDecompress, type SourceCorruptEvent, type ZstdCorruptInfo } from '../../lib/index.js'
import { cli } from '../cli-run.js'
import { escapeRegExp, haveZstdCommand, seededText } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

if (!haveZstdCommand) {
  t.pass('skipped: these tests read what the `zstd` command writes, and it is not on PATH')
  process.exit(0)
}

const dir = tempDir(t, 'zstd-dictionary-')
const DICTIONARY_ID = 4243

function zstdC (input: Buffer, ...flags: string[]): Buffer {
  return execFileSync('zstd', ['-c', '-q', ...flags], { input, maxBuffer: 64 * 1024 * 1024 })
}

// A trained dictionary with a known id: a frame written with it names the id in its header.
const samples = path.join(dir, 'samples')
fs.mkdirSync(samples)
for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(samples, `s${i}`), seededText(100 + i).lines(1000))
execFileSync('zstd', ['-q', '--train', '-r', samples, '-o', path.join(dir, 'dict'), '--maxdict=8192', `--dictID=${DICTIONARY_ID}`], { stdio: 'ignore' })

const payloads = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
const archive = (list: string[]): Buffer => encodeRecords(list.map((payload) => ({ payload })))
const before = zstdC(archive(payloads('a', 100)))
const needsDictionary = zstdC(archive(payloads('b', 100)), '-D', path.join(dir, 'dict'))
const after = zstdC(archive(payloads('c', 100)))
const file = path.join(dir, 'in', 'x.shoebox.zst')
fs.mkdirSync(path.dirname(file))
fs.writeFileSync(file, Buffer.concat([before, needsDictionary, after]))
const lines = (list: string[]): string => list.map((p) => `${p}\n`).join('')
const detail = `zstd data: the frame at compressed byte ${before.length} needs zstd dictionary ${DICTIONARY_ID}, which shoebox does not read (\`zstd -d -D DICTIONARY\` does)`
/** The lenient report's detail: where the offset is, and where reading went on. */
const skippedDetail = `${detail}; the offset is in the compressed file; skipped to the next frame`

t.test('the zstd command reads the dictionary frame with the dictionary', async (t) => {
  t.ok(execFileSync('zstd', ['-dc', '-q', '-D', path.join(dir, 'dict')], { input: needsDictionary }).equals(archive(payloads('b', 100))))
})

t.test('API, strict: the records before it, then SHOEBOX_UNSUPPORTED naming the file', async (t) => {
  const got: string[] = []
  const read = (async () => {
    for await (const record of archiveSource(file)) got.push(record.payload.toString())
  })()
  await t.rejects(read, { code: 'SHOEBOX_UNSUPPORTED', reason: 'unsupported', offset: before.length, message: `${file}: at byte ${before.length}: unsupported: ${detail}` })
  t.same(got, payloads('a', 100))
})

t.test('API, lenient: archiveSource skips it, reports it as unsupported (needs a dictionary), reads the frame after it', async (t) => {
  const got: string[] = []
  const corrupt: SourceCorruptEvent[] = []
  const source = archiveSource(file, { mode: 'lenient' })
  source.on('corrupt', (info: SourceCorruptEvent) => { corrupt.push(info) })
  for await (const record of source) got.push(record.payload.toString())
  t.same(got, [...payloads('a', 100), ...payloads('c', 100)])
  t.same(corrupt, [{
    offset: before.length,
    bytesSkipped: needsDictionary.length,
    reason: 'unsupported',
    needsDictionary: true,
    detail: skippedDetail,
    file: 'x.shoebox.zst',
    path: file
  }])
})

t.test('API, lenient: zstdDecompress() and decode() report it alike', async (t) => {
  const stage = zstdDecompress({ mode: 'lenient' })
  const decoder = decode({ mode: 'lenient' })
  const corrupt: ZstdCorruptInfo[] = []
  stage.on('corrupt', (info: ZstdCorruptInfo) => { corrupt.push(info) })
  let records = 0
  await pipeline(fs.createReadStream(file), stage, decoder, new Writable({ objectMode: true, write (_r, _e, cb) { records++; cb() } }))
  t.equal(records, 200)
  t.same(corrupt.map((c) => [c.reason, c.needsDictionary, c.offset, c.bytesSkipped]), [['unsupported', true, before.length, needsDictionary.length]])
})

t.test('CLI, strict: decode and read write the records before it, then one line naming the file, exit 1', async (t) => {
  for (const args of [['decode', file], ['read', path.join(path.dirname(file), '*')]]) {
    const r = await cli([...args, '--payload-only'])
    t.equal(r.stdout.toString(), lines(payloads('a', 100)))
    t.match(r.stderr, new RegExp(`^shoebox ${args[0]}: ${escapeRegExp(file)}: at byte ${before.length}: unsupported: ${escapeRegExp(detail)}[^\\n]*\\n$`))
    t.equal(r.code, 1)
  }
})

t.test('CLI, lenient: the line says the frame needs a zstd dictionary, not that it is damaged; the frame after it is read', async (t) => {
  for (const args of [['decode', file], ['read', path.join(path.dirname(file), '*')]]) {
    const r = await cli([...args, '--payload-only', '--lenient'])
    t.equal(r.stdout.toString(), lines([...payloads('a', 100), ...payloads('c', 100)]))
    t.equal(r.stderr, `shoebox ${args[0]}: ${file}: skipped a zstd frame that needs a dictionary: ${needsDictionary.length} compressed bytes at compressed byte ${before.length} (unsupported: ${skippedDetail})\n`)
    t.notMatch(r.stderr, /damaged/)
    t.equal(r.code, 1)
  }
})

t.test('CLI, ls and verify: the frame needs a zstd dictionary, in compressed bytes; exit 1', async (t) => {
  const ls = await cli(['ls', path.dirname(file)])
  t.match(ls.stdout.toString(), `x.shoebox.zst\t200 records\t`)
  t.match(ls.stdout.toString(), `DAMAGED (zstd frame at compressed byte ${before.length} needs a zstd dictionary: not read (zstd -d -D DICTIONARY reads it))\n`)
  t.equal(ls.code, 1)
  const verify = await cli(['verify', file])
  t.match(verify.stdout.toString(), `${file}:   at compressed byte ${before.length}: unsupported: ${skippedDetail} (${needsDictionary.length} compressed bytes skipped)\n`)
  t.equal(verify.code, 1)
})
