/**
 * metaIngest() sources: *.json files walked in sorted order (skipping
 * _mmmeta/ and dot-names), NDJSON, a big top-level JSON array (its damage:
 * json-array-source.test.ts), archive record metadata; origins on every object, unreadable
 * input passed on as UnreadableMetadata, numbers exact; and the exact JSON
 * parser underneath.
 */
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { encode } from '../../lib/format/encode.js'
import { archiveMetadataSource, fileStatSource, jsonArraySource, jsonFilesSource, ndjsonSource } from '../../lib/meta/sources.js'
import { parseJsonExact } from '../../lib/meta/json-exact.js'
import { flattenMetadata, NumberText } from '../../lib/meta/flatten.js'
import { originOf, UnreadableMetadata } from '../../lib/meta/origin.js'
import { countSplitScans, expectCode } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

function tmp (t: Test): string {
  return tempDir(t, 'shoebox-meta-src-')
}

async function collect (source: Readable): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const item of source) out.push(item)
  return out
}

function describe (items: unknown[]): unknown[] {
  return items.map((item) => item instanceof UnreadableMetadata
    ? { unreadable: item.origin, reason: item.reason }
    : { origin: originOf(item), row: flattenMetadata(item) })
}

t.test('parseJsonExact keeps numbers exact', async (t) => {
  const value = parseJsonExact('{"a": 12345678901234567890, "b": [1.0, 1e3, -0, 7, 1.5], "c": "x\\"\\u00fc\\n", "__proto__": 1}') as Record<string, unknown>
  // JSON.parse, not a literal: `__proto__: '1'` in a literal would set no key
  const row = flattenMetadata(value)
  t.same(row, JSON.parse('{"a": "12345678901234567890", "b": "[1.0,1e3,-0,7,1.5]", "c": "x\\"ü\\n", "__proto__": "1"}'))
  t.equal(Object.hasOwn(row, '__proto__') ? row.__proto__ : '(missing)', '1', '__proto__ is kept as a key')
  t.ok(value.a instanceof NumberText)
  t.equal(Object.getPrototypeOf(value), Object.prototype, '__proto__ is a plain key')
  for (const bad of ['{', '{"a" 1}', '[1,]', '{"a":1} x', '"\u0001"', 'nul', '01']) {
    await expectCode(t, Promise.resolve().then(() => parseJsonExact(bad, 'in.json')), 'SHOEBOX_INVALID_JSON', `refuses ${JSON.stringify(bad)}`)
  }
  const err = await expectCode(t, Promise.resolve().then(() => parseJsonExact('{\n  "a": ?\n}', 'in.json')), 'SHOEBOX_INVALID_JSON', 'position')
  t.match(err?.message, 'in.json: line 2 column 8')
})

t.test('parseJsonExact: compact texts (the JSON.parse fast path) give what the exact parser gives', async (t) => {
  // the same values written compact and with spaces (spaces always take the exact parser)
  const cases: Array<[string, Record<string, string | null>]> = [
    ['{"a":7,"b":"ü","c":[1,2.5],"d":{"e":null,"f":false},"g":""}', { a: '7', b: 'ü', c: '[1,2.5]', 'd:e': null, 'd:f': 'false', g: '' }],
    ['{"a":1.0}', { a: '1.0' }],
    ['{"a":1e3}', { a: '1e3' }],
    ['{"a":-0}', { a: '-0' }],
    ['{"a":12345678901234567890}', { a: '12345678901234567890' }],
    ['{"a":0.1,"b":-5,"c":1.5e-7}', { a: '0.1', b: '-5', c: '1.5e-7' }],
    ['{"a":[1.0,{"b":2.50}]}', { a: '[1.0,{"b":2.50}]' }],
    ['{"a":"\\u00fc","b":1}', { a: 'ü', b: '1' }],
    ['{"a":1,"a":2.0}', { a: '2.0' }]
  ]
  for (const [compact, row] of cases) {
    t.same(flattenMetadata(parseJsonExact(compact)), row, compact)
    t.same(flattenMetadata(parseJsonExact(compact.replaceAll(',"', ', "').replaceAll('":', '": '))), row, `${compact} with spaces`)
  }
  t.ok((parseJsonExact('{"a":1.0}') as Record<string, unknown>).a instanceof NumberText, '1.0 stays a NumberText')
  const proto = parseJsonExact('{"__proto__":{"x":1}}') as Record<string, unknown>
  t.equal(Object.getPrototypeOf(proto), Object.prototype, '__proto__ is a plain key on the fast path too')
  t.same(flattenMetadata(proto), { '__proto__:x': '1' })
  t.same(parseJsonExact('\ufeff{"a":1}'), { a: 1 }, 'BOM skipped')
  await expectCode(t, Promise.resolve().then(() => parseJsonExact('{"a":1}x', 'in.ndjson: line 3')), 'SHOEBOX_INVALID_JSON', 'trailing text refused')
})

t.test('jsonFilesSource: sorted walk, skips, origins, unreadable files', async (t) => {
  const root = tmp(t)
  const put = (rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    fs.writeFileSync(path.join(root, rel), text)
  }
  put('b/2.json', '{"content_hash": "b2"}')
  put('a.json', '{"content_hash": "a", "n": 90071992547409931}')
  put('b/1.json', '{"content_hash": "b1", "x": {"y-z": 0}}')
  put('_mmmeta/config.json', '{"content_hash": "no"}')
  put('.hidden.json', '{"content_hash": "no"}')
  put('c.json', '[1, 2]')
  put('d.json', '{"content_hash": ')
  put('e.txt', '{}')
  // 'café' in Latin-1: decoded, the é would become U+FFFD; a real U+FFFD (EF BF BD) before it is no fault
  fs.writeFileSync(path.join(root, 'f.json'), Buffer.concat([Buffer.from('{"content_hash": "f", "t": "\uFFFD caf'), Buffer.from([0xe9]), Buffer.from('"}')]))
  // names that are not UTF-8 (a file, and a directory on the way) are read, not skipped
  const raw = (rel: string): Buffer => Buffer.concat([Buffer.from(root), Buffer.from(rel, 'latin1')])
  fs.writeFileSync(raw('/g\xff.json'), '{"content_hash": "g"}')
  fs.mkdirSync(raw('/h\xfe'))
  fs.writeFileSync(raw('/h\xfe/1.json'), '{"content_hash": "h"}')
  // links: to a file (read, as mmmeta's os.walk lists it), to a directory and to '.' (not descended into), to nothing (reported)
  const outside = tmp(t)
  fs.writeFileSync(path.join(outside, 'o.json'), '{"content_hash": "o"}')
  fs.symlinkSync(path.join(outside, 'o.json'), path.join(root, 'i.json'))
  fs.symlinkSync(outside, path.join(root, 'j'))
  fs.symlinkSync('.', path.join(root, 'k'))
  fs.symlinkSync('nowhere.json', path.join(root, 'l.json'))
  const items = describe(await collect(jsonFilesSource(root)))
  t.same(items, [
    { origin: { file: path.join(root, 'a.json') }, row: { content_hash: 'a', n: '90071992547409931' } },
    { origin: { file: path.join(root, 'b/1.json') }, row: { content_hash: 'b1', 'x:y_z': '0' } },
    { origin: { file: path.join(root, 'b/2.json') }, row: { content_hash: 'b2' } },
    { unreadable: { file: path.join(root, 'c.json') }, reason: 'not a JSON object' },
    { unreadable: { file: path.join(root, 'd.json') }, reason: 'column 18: unexpected end of text' },
    { unreadable: { file: path.join(root, 'f.json') }, reason: 'not valid UTF-8 (from byte 35)' },
    { origin: { file: path.join(root, 'g\uFFFD.json') }, row: { content_hash: 'g' } },
    { origin: { file: path.join(root, 'h\uFFFD/1.json') }, row: { content_hash: 'h' } },
    { origin: { file: path.join(root, 'i.json') }, row: { content_hash: 'o' } },
    { unreadable: { file: path.join(root, 'l.json') }, reason: 'a symbolic link to no file' }
  ])
  await t.rejects(collect(jsonFilesSource(path.join(root, 'missing'))), { code: 'SHOEBOX_IO' })
})

t.test('ndjsonSource: lines, CRLF, blank lines, bad lines, UTF-8 split across chunks', async (t) => {
  const text = '{"content_hash":"a","t":"Grüße"}\r\n\n{"content_hash":"b","big":12345678901234567890}\nnot json\n[1]\n{"content_hash":"c"}'
  const bytes = Buffer.from(text)
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += 5) chunks.push(bytes.subarray(i, i + 5))
  const items = describe(await collect(ndjsonSource(Readable.from(chunks), 'in.ndjson')))
  t.same(items, [
    { origin: { file: 'in.ndjson', line: 1 }, row: { content_hash: 'a', t: 'Grüße' } },
    { origin: { file: 'in.ndjson', line: 3 }, row: { content_hash: 'b', big: '12345678901234567890' } },
    { unreadable: { file: 'in.ndjson', line: 4 }, reason: 'column 1: unexpected character "n"' },
    { unreadable: { file: 'in.ndjson', line: 5 }, reason: 'not a JSON object' },
    { origin: { file: 'in.ndjson', line: 6 }, row: { content_hash: 'c' } }
  ])
  // a Latin-1 line is unreadable (decoded, 'café' would be stored as 'caf\uFFFD'); the lines around it are read
  const latin1 = Buffer.concat([Buffer.from('{"content_hash":"x"}\n\n{"content_hash":"y","t":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n{"content_hash":"z","t":"Grüße"}\n')])
  for (const size of [1, 3, 64]) {
    const parts: Buffer[] = []
    for (let i = 0; i < latin1.length; i += size) parts.push(latin1.subarray(i, i + size))
    t.same(describe(await collect(ndjsonSource(Readable.from(parts), 'l.ndjson'))), [
      { origin: { file: 'l.ndjson', line: 1 }, row: { content_hash: 'x' } },
      { unreadable: { file: 'l.ndjson', line: 3 }, reason: 'not valid UTF-8' },
      { origin: { file: 'l.ndjson', line: 4 }, row: { content_hash: 'z', t: 'Grüße' } }
    ], `Latin-1 line, chunks of ${size}`)
  }
})

t.test('ndjsonSource: a long line arriving in many chunks is split once, not once a chunk', async (t) => {
  // split2 splits the unfinished line's whole text again at each chunk (quadratic in the chunks of a
  // line): counted as the characters String.prototype.split is given, not as time.
  const piece = Buffer.alloc(4096, 97)
  const pieces = 256
  const lineLength = '{"content_hash":"'.length + pieces * piece.length + 3
  const chunks = [Buffer.from('{"content_hash":"'), ...Array<Buffer>(pieces).fill(piece), Buffer.from('"}\n{"content_hash":"b"}\n')]
  const { result: items, scanned } = await countSplitScans(async () => describe(await collect(ndjsonSource(Readable.from(chunks), 'long.ndjson'))))
  t.same(items, [
    { origin: { file: 'long.ndjson', line: 1 }, row: { content_hash: 'a'.repeat(pieces * piece.length) } },
    { origin: { file: 'long.ndjson', line: 2 }, row: { content_hash: 'b' } }
  ])
  t.ok(scanned < 3 * lineLength, `split scanned ${scanned} characters for a line of ${lineLength}`)
})

// Held whole, a 600 MB line became a string longer than V8 makes: split2 crashed the process (ERR_STRING_TOO_LONG).
t.test('ndjsonSource: a line over 64 MiB is unreadable on its own, stepped over; the lines around it are read', async (t) => {
  const piece = Buffer.alloc(1024 * 1024, 97)
  const chunks = [Buffer.from('{"content_hash":"a"}\n{"content_hash":"'), ...Array<Buffer>(65).fill(piece), Buffer.from('"}\n{"content_hash":"c"}\n')]
  t.same(describe(await collect(ndjsonSource(Readable.from(chunks), 'big.ndjson'))), [
    { origin: { file: 'big.ndjson', line: 1 }, row: { content_hash: 'a' } },
    { unreadable: { file: 'big.ndjson', line: 2 }, reason: 'longer than 67108864 bytes, the most one line may hold (stepped over, not read)' },
    { origin: { file: 'big.ndjson', line: 3 }, row: { content_hash: 'c' } }
  ])
})

t.test('jsonArraySource: elements of a top-level array, exact, in constant memory', async (t) => {
  const dir = tmp(t)
  const file = path.join(dir, 'big.json')
  fs.writeFileSync(file, '[\n {"content_hash": "a", "n": 12345678901234567890, "f": 1.0, "l": [1, {"k": null}], "o": {"p-q": true}},\n 7,\n {"content_hash": "b", "s": "x\\ny"}\n]\n')
  t.same(describe(await collect(jsonArraySource(file))), [
    { origin: { file, line: 1 }, row: { content_hash: 'a', n: '12345678901234567890', f: '1.0', l: '[1,{"k":null}]', 'o:p_q': 'true' } },
    { unreadable: { file, line: 2 }, reason: 'not a JSON object' },
    { origin: { file, line: 3 }, row: { content_hash: 'b', s: 'x\ny' } }
  ])
  const many = path.join(dir, 'many.json')
  const out = fs.createWriteStream(many)
  out.write('[')
  for (let i = 0; i < 20000; i++) out.write((i > 0 ? ',' : '') + JSON.stringify({ content_hash: `h${i}`, i }))
  out.end(']')
  await once(out, 'close')
  let count = 0
  for await (const item of jsonArraySource(many)) if (!(item instanceof UnreadableMetadata)) count++
  t.equal(count, 20000)
  fs.writeFileSync(path.join(dir, 'obj.json'), '{"a": 1}')
  await t.rejects(collect(jsonArraySource(path.join(dir, 'obj.json'))), { code: 'SHOEBOX_INVALID_JSON' })
  fs.writeFileSync(path.join(dir, 'broken.json'), '[{"a": 1},')
  await t.rejects(collect(jsonArraySource(path.join(dir, 'broken.json'))), { code: 'SHOEBOX_INVALID_JSON' })
  await t.rejects(collect(jsonArraySource(path.join(dir, 'none.json'))), { code: 'SHOEBOX_IO' })
})

t.test('archiveMetadataSource: record metadata with archive and record number', async (t) => {
  const dir = tmp(t)
  const file = path.join(dir, 'a.sbx')
  const records = [{ metadata: { content_hash: 'x', title: 'X' }, payload: Buffer.from('1') }, { metadata: { content_hash: 'y' }, payload: Buffer.from('2') }]
  await pipeline(Readable.from(records, { objectMode: true }), encode(), fs.createWriteStream(file))
  const items = describe(await collect(archiveMetadataSource(path.join(dir, '*.sbx'))))
  t.same(items, [
    { origin: { file, line: 1 }, row: { content_hash: 'x', title: 'X' } },
    { origin: { file, line: 2 }, row: { content_hash: 'y' } }
  ])
})

t.test('archiveMetadataSource behind a slow consumer: each record keeps its own archive and number', async (t) => {
  const dir = tmp(t)
  const names = ['a.sbx', 'b.sbx', 'c.sbx']
  for (const name of names) {
    const records = Array.from({ length: 3000 }, (_, i) => ({ metadata: { id: `${name}:${i + 1}` }, payload: Buffer.from('x') }))
    await pipeline(Readable.from(records, { objectMode: true }), encode(), fs.createWriteStream(path.join(dir, name)))
  }
  // The next archive's 'file' event came while the records of the one before still waited in the
  // source's buffer (the consumer, an ingest, slower than the read): they were told as the next archive's.
  const wrong: string[] = []
  let seen = 0
  for await (const item of archiveMetadataSource(path.join(dir, '*.sbx'))) {
    const origin = originOf(item)
    const { id } = item as { id: string }
    if (`${path.basename(origin?.file ?? '')}:${origin?.line}` !== id) wrong.push(`${id} as ${JSON.stringify(origin)}`)
    if (++seen % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.equal(seen, 9000)
  t.same(wrong.slice(0, 3), [], 'every origin right')
})

t.test('fileStatSource (--no-meta): a small file is hashed through reads of its size, not 1 MiB (V8 counts those)', async (t) => {
  const root = tmp(t)
  for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(root, `f${i}.pdf`), `file ${i}`)
  fs.writeFileSync(path.join(root, 'big.pdf'), Buffer.alloc(3 * 1024 * 1024 + 5, 7))
  // fs.ReadStream takes each read's buffer from Buffer.allocUnsafeSlow, the one that finds the end too.
  const allocUnsafeSlow = Buffer.allocUnsafeSlow
  let allocated = 0
  Buffer.allocUnsafeSlow = (size: number) => { allocated += size; return allocUnsafeSlow(size) }
  let items: Array<Record<string, unknown>>
  try {
    items = await collect(fileStatSource(root)) as Array<Record<string, unknown>>
  } finally {
    Buffer.allocUnsafeSlow = allocUnsafeSlow
  }
  t.equal(items.length, 41)
  t.equal(items.find((i) => i.file_name === 'big.pdf')?.content_hash, createHash('sha1').update(Buffer.alloc(3 * 1024 * 1024 + 5, 7)).digest('hex'), 'a big file hashed whole')
  // Now 32 KiB a small file and the big file's 4 reads of 1 MiB and its end; before, 2 MiB a small file (80 MiB more).
  t.ok(allocated <= 40 * 64 * 1024 + 8 * 1024 * 1024, `${allocated} bytes allocated`)
})

t.test('fileStatSource (--no-meta): every file but _mmmeta, with size, UTC times and SHA-1', async (t) => {
  const root = tmp(t)
  fs.mkdirSync(path.join(root, 'sub'))
  fs.mkdirSync(path.join(root, '_mmmeta', 'db'), { recursive: true })
  fs.writeFileSync(path.join(root, 'sub', 'b.pdf'), 'hello')
  fs.writeFileSync(path.join(root, 'a.json'), '{}')
  fs.writeFileSync(path.join(root, '_mmmeta', 'db', 'x.append'), 'no')
  const when = new Date(Date.UTC(2024, 4, 9, 10, 0, 0, 500)) // .5 s: exact in utimes' float seconds
  fs.utimesSync(path.join(root, 'sub', 'b.pdf'), when, when)
  const items = await collect(fileStatSource(root)) as Array<Record<string, unknown>>
  t.same(items.map((i) => [i.file_name, i.file_size]), [['a.json', 2], ['sub/b.pdf', 5]])
  t.same(items[1].content_hash, 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d', 'sha1 of "hello"')
  t.same(items[1].modified_at, '2024-05-09 10:00:00.500000')
  t.same(items[1].file_path, path.join(root, 'sub', 'b.pdf'))
  t.same(originOf(items[1]), { file: path.join(root, 'sub', 'b.pdf') })
  // names that are not UTF-8 (a file, a directory on the way) are reported, not skipped, nor the run failed
  const raw = (rel: string): Buffer => Buffer.concat([Buffer.from(root), Buffer.from(rel, 'latin1')])
  fs.writeFileSync(raw('/c\xff.pdf'), 'x')
  fs.mkdirSync(raw('/d\xfe'))
  fs.writeFileSync(raw('/d\xfe/e.pdf'), 'y')
  const more = describe(await collect(fileStatSource(root)))
  const reason = 'its name is not valid UTF-8, which a file_name in the meta db cannot hold'
  t.same(more.filter((i) => typeof i === 'object' && i !== null && 'unreadable' in i), [
    { unreadable: { file: path.join(root, 'c\uFFFD.pdf') }, reason },
    { unreadable: { file: path.join(root, 'd\uFFFD/e.pdf') }, reason }
  ])
  t.equal(more.length, 4, 'a.json and sub/b.pdf as before')
  // a link to nothing is reported as --no-meta's *.json sibling reports it, not passed over without a word
  fs.symlinkSync('nowhere.pdf', path.join(root, 'f.pdf'))
  const linked = describe(await collect(fileStatSource(root)))
  t.same(linked.filter((i) => typeof i === 'object' && i !== null && 'unreadable' in i && (i.unreadable as { file: string }).file.endsWith('f.pdf')), [
    { unreadable: { file: path.join(root, 'f.pdf') }, reason: 'a symbolic link to no file' }
  ])
  t.equal(linked.length, 5, 'the four before, and the link')
})
