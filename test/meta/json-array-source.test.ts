/**
 * jsonArraySource() on damage: every element complete before a tear is
 * delivered, then SHOEBOX_INVALID_JSON naming the file and the byte,
 * whatever the chunks and however slow the consumer; an element that is not
 * JSON or not UTF-8 is unreadable on its own, the others read; strings
 * holding the array's structure, unicode, empty input, and a huge array in
 * bounded memory.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import { ShoeboxError } from '../../lib/errors.js'
import { flattenMetadata } from '../../lib/meta/flatten.js'
import { originOf, UnreadableMetadata } from '../../lib/meta/origin.js'
import { jsonArrayElements, jsonArraySource } from '../../lib/meta/sources.js'
import { MAX_ARRAY_ELEMENT_BYTES } from '../../lib/json/array-splitter.js'
import { tempDir } from '../temp-dir.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function tmp (t: Test): string {
  return tempDir(t, 'shoebox-json-array-')
}

function describe (item: unknown): unknown {
  return item instanceof UnreadableMetadata
    ? { unreadable: item.origin, reason: item.reason }
    : { origin: originOf(item), row: flattenMetadata(item) }
}

/** The items a source delivers, and the error it ends with (null if none). */
async function read (source: Readable, slow = false): Promise<{ items: unknown[], error: ShoeboxError | null }> {
  const items: unknown[] = []
  try {
    for await (const item of source) {
      items.push(describe(item))
      if (slow) await new Promise((resolve) => setTimeout(resolve, 1))
    }
  } catch (err) {
    if (!(err instanceof ShoeboxError)) throw err
    return { items, error: err }
  }
  return { items, error: null }
}

function chunked (bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  return Readable.from(chunks)
}

t.test('a tear at every byte, in chunks of 1, 7 and 64 KiB: every complete element, then the byte named', async (t) => {
  const dir = tmp(t)
  const parts = ['{"content_hash": "a", "s": "],[}{\\"\\\\"}', '7', '{"content_hash": "b", "n": 1.0, "u": "😀\\ud83d\\ude00"}', '"]"', '{"content_hash": "c"}']
  const bytes = Buffer.from('[' + parts.join(' , ') + ']\n')
  // A number is complete once the byte after it is in.
  const ends = parts.map((p) => bytes.indexOf(Buffer.from(p)) + Buffer.byteLength(p) + (p === '7' ? 1 : 0))
  const name = path.join(dir, 'torn.json')
  fs.writeFileSync(name, bytes)
  const whole = await read(jsonArraySource(name))
  t.equal(whole.error, null)
  t.same(whole.items, [
    { origin: { file: name, line: 1 }, row: { content_hash: 'a', s: '],[}{"\\' } },
    { unreadable: { file: name, line: 2 }, reason: 'not a JSON object' },
    { origin: { file: name, line: 3 }, row: { content_hash: 'b', n: '1.0', u: '😀😀' } },
    { unreadable: { file: name, line: 4 }, reason: 'not a JSON object' },
    { origin: { file: name, line: 5 }, row: { content_hash: 'c' } }
  ])
  for (let cut = 0; cut < bytes.length - 1; cut++) {
    const complete = ends.filter((end) => end <= cut).length
    for (const size of [1, 7, 65536]) {
      const got = await read(jsonArrayElements(chunked(bytes.subarray(0, cut), size), name))
      t.same(got.items, whole.items.slice(0, complete), `cut at ${cut}, chunks of ${size}: the ${complete} complete elements`)
      t.equal(got.error?.code, 'SHOEBOX_INVALID_JSON')
      t.match(got.error?.message, `${name}: at byte ${cut}: `, `cut at ${cut}, chunks of ${size}: the byte named`)
    }
    fs.writeFileSync(name, bytes.subarray(0, cut))
    const file = await read(jsonArraySource(name))
    t.same([file.items.length, file.error?.message.startsWith(`${name}: at byte ${cut}: `)], [complete, true], `the file cut at ${cut}`)
  }
  const last = await read(jsonArrayElements(chunked(bytes.subarray(0, bytes.length - 3), 7), name))
  t.equal(last.error?.message, `${name}: at byte ${bytes.length - 3}: the file ends inside element 5, begun at byte ${bytes.length - 23} (4 whole elements before it)`)
})

t.test('a torn 40-element array read slowly: the 39 elements before the tear, then the error', async (t) => {
  // 3 KiB elements: the tear's 64 KiB read chunk holds about 20 complete ones (stream-json's parser dropped them).
  const dir = tmp(t)
  const file = path.join(dir, 'torn.json')
  const elements = Array.from({ length: 40 }, (_, i) => JSON.stringify({ content_hash: `h${i}`, pad: 'x'.repeat(3000) }))
  const text = '[' + elements.join(',\n') + ']'
  fs.writeFileSync(file, text.slice(0, text.length - 1000))
  const got = await read(jsonArraySource(file), true)
  t.same(got.items.map((item) => (item as { row: { content_hash: string } }).row.content_hash), elements.slice(0, 39).map((_e, i) => `h${i}`))
  t.equal(got.error?.message, `${file}: at byte ${text.length - 1000}: the file ends inside element 40, begun at byte ${text.lastIndexOf('{')}, inside a string begun at byte ${text.lastIndexOf('"x')} (39 whole elements before it)`)
})

t.test('a byte that is not UTF-8 makes its element unreadable, naming the byte; the others are read', async (t) => {
  const dir = tmp(t)
  // A UTF-8 'é' split by the first read chunk's edge (64 KiB) is read whole; the Latin-1 'café' after it is element 2's alone.
  const start = '[{"content_hash":"a","pad":"'
  const head = start + 'x'.repeat(65536 - start.length - 1) + 'é"},\n{"content_hash":"b","t":"caf'
  const file = path.join(dir, 'latin1.json')
  fs.writeFileSync(file, Buffer.concat([Buffer.from(head), Buffer.from([0xe9]), Buffer.from('"},\n{"content_hash":"c","t":"Grüße"}]')]))
  for (const source of [jsonArraySource(file), jsonArrayElements(chunked(fs.readFileSync(file), 7), file)]) {
    const got = await read(source)
    t.equal(got.error, null)
    t.same(got.items.map((item) => (item as { row?: Record<string, string> }).row?.t ?? (item as { row?: Record<string, string> }).row?.content_hash ?? item), [
      'a',
      { unreadable: { file, line: 2 }, reason: `not valid UTF-8 (from byte ${Buffer.byteLength(head)})` },
      'Grüße'
    ])
    t.equal(((got.items[0] as { row: { pad: string } }).row.pad).slice(-2), 'xé')
  }
})

t.test('an element that is not JSON: unreadable on its own where its end is found, else the end of the read', async (t) => {
  const dir = tmp(t)
  const file = path.join(dir, 'bad.json')
  const bad = '{"content_hash": "b" "x": 1}'
  const text = `[{"content_hash": "a"}, ${bad}, {"content_hash": "c", "s": "raw\nnewline"}, nul, {"content_hash": "d"}]`
  fs.writeFileSync(file, text)
  const got = await read(jsonArraySource(file))
  t.equal(got.error, null)
  t.same(got.items, [
    { origin: { file, line: 1 }, row: { content_hash: 'a' } },
    { unreadable: { file, line: 2 }, reason: `byte ${text.indexOf('"x"')}: expected ',' or '}', got character "\\""` },
    { unreadable: { file, line: 3 }, reason: `byte ${text.indexOf('\n')}: control character in string` },
    { unreadable: { file, line: 4 }, reason: `byte ${text.indexOf('nul')}: unexpected character "n"` },
    { origin: { file, line: 5 }, row: { content_hash: 'd' } }
  ])
  // A '}' closing a '[': where the element ends is not known, so the read ends there.
  const mismatch = `[{"content_hash": "a"}, {"content_hash": "b", "l": [1}, {"content_hash": "c"}]`
  fs.writeFileSync(file, mismatch)
  const broken = await read(jsonArraySource(file))
  t.same(broken.items, [{ origin: { file, line: 1 }, row: { content_hash: 'a' } }])
  t.equal(broken.error?.message, `${file}: at byte ${mismatch.indexOf('1}') + 1}: '}' closes a '[' in element 2, begun at byte 24 (1 whole element before it)`)
  // A stray byte between elements, and text after the array.
  for (const [text, at] of [['[{"content_hash": "a"} x]', 23], ['[{"content_hash": "a"}] ]', 24]] as const) {
    fs.writeFileSync(file, text)
    const r = await read(jsonArraySource(file))
    t.same([r.items.length, r.error?.code, r.error?.message.startsWith(`${file}: at byte ${at}: `)], [1, 'SHOEBOX_INVALID_JSON', true], text)
  }
})

t.test('unicode, nesting, an empty array, white space only, a missing file', async (t) => {
  const dir = tmp(t)
  const file = path.join(dir, 'u.json')
  fs.writeFileSync(file, '\ufeff[{"content_hash": "😀", "e": "\\ud83d\\ude00", "lone": "\\udc00", "k": {"ü": [1, {"a": {"b": {}}}]}}]')
  const [item] = (await read(jsonArraySource(file))).items as Array<{ row: Record<string, string> }>
  t.same(item.row, { content_hash: '😀', e: '😀', lone: '\udc00', 'k:ü': '[1,{"a":{"b":{}}}]' }, 'astral characters, escaped surrogates (a lone one kept as JSON.parse keeps it); a leading BOM skipped')
  // Nesting: the depth the parser allows is read; deeper, the element alone is unreadable.
  const deep = (n: number): string => `{"content_hash": "d", "l": ${'['.repeat(n)}1.0${']'.repeat(n)}}`
  const nesting = `[${deep(999)}, ${deep(1000)}, {"content_hash": "e"}]`
  fs.writeFileSync(file, nesting)
  const nested = (await read(jsonArraySource(file))).items as Array<{ row?: { content_hash: string }, reason?: string }>
  // the element's '{' and 999 '[' are 1000 deep; the 1000th '[' is one too many
  t.same(nested.map((i) => i.row?.content_hash ?? i.reason), ['d', `byte ${nesting.indexOf(deep(1000)) + deep(1000).indexOf('[') + 999}: nested deeper than 1000`, 'e'])
  fs.writeFileSync(file, ' [ \n ] \n')
  t.same(await read(jsonArraySource(file)), { items: [], error: null }, 'an empty array')
  fs.writeFileSync(file, ' \n\t ')
  const blank = await read(jsonArraySource(file))
  t.same([blank.items, blank.error?.message], [[], `${file}: at byte 4: no JSON array: the file holds only white space`])
  fs.writeFileSync(file, '')
  t.equal((await read(jsonArraySource(file))).error?.message, `${file}: at byte 0: no JSON array: the file is empty`)
  for (const [missing, why] of [[path.join(dir, 'none.json'), 'no such file or directory (ENOENT)'], [dir, 'is a directory (EISDIR)']]) {
    const r = await read(jsonArraySource(missing))
    t.same([r.error?.code, r.error?.message], ['SHOEBOX_IO', `cannot read ${missing}: ${why}`])
  }
})

t.test('200,000 small elements in bounded memory', async (t) => {
  const dir = tmp(t)
  const file = path.join(dir, 'many.json')
  const count = 200000
  const out = fs.openSync(file, 'w')
  fs.writeSync(out, '[')
  for (let i = 0; i < count; i += 1000) {
    let text = ''
    for (let j = i; j < i + 1000; j++) text += (j > 0 ? ',\n' : '') + JSON.stringify({ content_hash: `h${j}`, i: j, f: 1.5 })
    fs.writeSync(out, text)
  }
  fs.writeSync(out, ']')
  fs.closeSync(out)
  const heap = (): number => {
    gc()
    gc()
    return process.memoryUsage().heapUsed
  }
  const before = heap()
  let most = 0
  let seen = 0
  let last = ''
  for await (const item of jsonArraySource(file)) {
    if (++seen % 20000 === 0) most = Math.max(most, heap() - before)
    last = (item as { content_hash: string }).content_hash
  }
  t.same([seen, last], [count, `h${count - 1}`])
  // Held at once, the 200,000 objects (about 8 MB of text) would take tens of MB.
  t.ok(most < 8 * 2 ** 20, `the heap grew by ${(most / 2 ** 20).toFixed(1)} MiB at most`)
})

t.test('damaged arrays (seeded mutations): one outcome whatever the chunks, a typed error if any', async (t) => {
  const sample = Buffer.from('[{"content_hash": "a", "s": "],\\"\\\\", "n": [1.0, {"k": null}]},\n 7, "x", {"content_hash": "Grüße 😀"}, {"content_hash": "c"}]')
  const alphabet = Buffer.from('{}[]",:\\ \n1nx\xe9', 'latin1')
  let state = 4242
  const rand = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    return state % n
  }
  let differing = 0
  let untyped = 0
  for (let round = 0; round < 300; round++) {
    const bytes = [...sample]
    for (let k = 1 + rand(3); k > 0; k--) {
      const at = rand(bytes.length)
      const kind = rand(3)
      if (kind === 0) bytes.splice(at, 1)
      else if (kind === 1) bytes.splice(at, 0, alphabet[rand(alphabet.length)])
      else bytes[at] = alphabet[rand(alphabet.length)]
    }
    const input = Buffer.from(bytes)
    const outcomes = []
    for (const size of [1, 7, 65536]) {
      const got = await read(jsonArrayElements(chunked(input, size), 'f.json'))
      if (got.error !== null && got.error.code !== 'SHOEBOX_INVALID_JSON') untyped++
      outcomes.push(JSON.stringify([got.items, got.error?.message ?? null]))
    }
    if (outcomes[0] !== outcomes[1] || outcomes[0] !== outcomes[2]) differing++
  }
  t.equal(differing, 0, 'the same items and error in chunks of 1, 7 and 64 KiB')
  t.equal(untyped, 0, 'every failure SHOEBOX_INVALID_JSON')
})

/**
 * `chunks` of a file, then a read error (EIO). Not a real failing read: none
 * can be made here mid-file (a FIFO whose writer dies is an end, not an
 * error; a file truncated meanwhile reads short; a device that fails needs
 * device-mapper or a FUSE mount, which the tests cannot count on), so this
 * goes through jsonArrayElements(), which jsonArraySource() is over its
 * file's read stream, with a Readable that fails as that stream does: a
 * destroy with the errno error.
 */
function failingAfter (chunks: Buffer[]): Readable {
  let next = 0
  return new Readable({
    read () {
      if (next < chunks.length) this.push(chunks[next++])
      else this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read' }))
    }
  })
}

t.test('a read error part way, after every chunk of 7 bytes: every element complete before it, then one SHOEBOX_IO naming the file, the byte and the elements before it', async (t) => {
  const name = '/data/meta.json'
  const elements = ['{"content_hash": "a", "s": "},{"}', '{"content_hash": "b", "n": 1.0}', '{"content_hash": "c"}']
  const bytes = Buffer.from('[' + elements.join(',\n ') + ']')
  const ends = elements.map((e) => bytes.indexOf(Buffer.from(e)) + Buffer.byteLength(e))
  const whole = await read(jsonArrayElements(chunked(bytes, 7), name))
  t.equal(whole.items.length, 3)
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7))
  for (let delivered = 0; delivered <= chunks.length; delivered++) {
    const taken = Math.min(delivered * 7, bytes.length)
    const complete = ends.filter((end) => end <= taken).length
    for (const slow of [false, true]) {
      const got = await read(jsonArrayElements(failingAfter(chunks.slice(0, delivered)), name), slow)
      const what = `failing after ${taken} bytes${slow ? ', read slowly' : ''}`
      t.same(got.items, whole.items.slice(0, complete), `${what}: the ${complete} complete elements`)
      t.same([got.error?.code, got.error?.message], ['SHOEBOX_IO', taken === 0
        ? `cannot read ${name}: input/output error (EIO)`
        : `cannot read ${name} at byte ${taken}: input/output error (EIO); ${complete} whole element${complete === 1 ? '' : 's'} before it`], `${what}: one error`)
      t.equal((got.error?.cause as NodeJS.ErrnoException | undefined)?.code, 'EIO', `${what}: the read's error its cause`)
    }
  }
})

t.test('an element over 64 MiB in a file: unreadable on its own, the elements around it read', async (t) => {
  const file = path.join(tmp(t), 'big.json')
  const big = `{"content_hash": "big", "pad": "${'x'.repeat(MAX_ARRAY_ELEMENT_BYTES)}"}`
  fs.writeFileSync(file, `[{"content_hash": "a"},\n${big},\n{"content_hash": "c"}]`)
  const got = await read(jsonArraySource(file))
  t.equal(got.error, null)
  t.same(got.items, [
    { origin: { file, line: 1 }, row: { content_hash: 'a' } },
    { unreadable: { file, line: 2 }, reason: `larger than ${MAX_ARRAY_ELEMENT_BYTES} bytes, the most one element may hold (stepped over, not read)` },
    { origin: { file, line: 3 }, row: { content_hash: 'c' } }
  ])
})
