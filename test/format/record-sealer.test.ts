/**
 * Record checksums: the native slab checksummer (native/record_crc.c, when
 * it is built) and the record-by-record path must write the same bytes, and
 * the encoder must seal every record before its bytes leave it.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import { ArchiveEncoder, crc32c, encodeRecords, type RecordInput } from '../../lib/index.js'
import { RecordSealer } from '../../lib/format/record-sealer.js'
import { loadNative, nativeRecords } from '../../lib/native.js'
import { decodeRecords } from '../helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const built = fs.existsSync(path.join(root, 'build', 'Release', 'shoebox_native.node'))

/** Whether this CPU has what the checksummer needs (x86-64 with PCLMULQDQ, SSE4.1 and SSE4.2). */
function cpuHasCrcInstructions (): boolean {
  if (process.arch !== 'x64' || process.platform !== 'linux') return false
  const flags = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? []
  return ['pclmulqdq', 'sse4_1', 'sse4_2'].every((f) => flags.includes(f))
}

t.test('the native checksummer is in use exactly where it was built for this CPU', async (t) => {
  // On x86-64 Linux, `npm install` builds it (scripts/build-native.js) when a compiler is there.
  const switchedOff = process.env.SHOEBOX_NATIVE === '0'
  t.equal(nativeRecords() !== null, built && cpuHasCrcInstructions() && !switchedOff, `built: ${built}, arch: ${process.arch}, SHOEBOX_NATIVE=0: ${switchedOff}`)
  t.equal(loadNative({ SHOEBOX_NATIVE: '0' }), null, 'SHOEBOX_NATIVE=0 switches it off')
  t.equal(loadNative(process.env) !== null, nativeRecords() !== null, 'loads the same way each time')
  t.equal(loadNative({}) !== null, built && cpuHasCrcInstructions(), 'without the switch, in use wherever built for this CPU')
  t.equal(loadNative({ SHOEBOX_NATIVE: '1' }) !== null, built && cpuHasCrcInstructions(), 'SHOEBOX_NATIVE=1 is the default')
})

t.test('a SHOEBOX_NATIVE other than 0 or 1 is refused, not read as "on"', async (t) => {
  for (const value of ['off', 'false', 'no', '', ' 0', 'O']) {
    t.throws(() => loadNative({ SHOEBOX_NATIVE: value }), { code: 'SHOEBOX_USAGE', message: /SHOEBOX_NATIVE must be '0' or '1'/ }, JSON.stringify(value))
  }
})

/** A slab of n records of lengths from `lengths`, each followed by 4 bytes for its checksum. */
function slabOf (lengths: number[]): { slab: Buffer, ranges: Array<[number, number]> } {
  const total = lengths.reduce((s, l) => s + l + 4, 0) + 3
  const slab = Buffer.alloc(total)
  for (let i = 0; i < total; i++) slab[i] = (i * 2654435761) >>> 24
  const ranges: Array<[number, number]> = []
  let at = 3 // an odd start, so no record is aligned
  for (const l of lengths) {
    ranges.push([at, at + l])
    at += l + 4
  }
  return { slab, ranges }
}

const lengths = [...Array.from({ length: 300 }, (_, i) => i), 1000, 4093, 4096, 65_537]

for (const algorithm of ['crc32', 'crc32c'] as const) {
  t.test(`${algorithm}: batched and record-by-record checksums are the same, for every length`, async (t) => {
    const reference = (data: Buffer): number => algorithm === 'crc32' ? zlib.crc32(data) : crc32c(data)
    const sealers = [new RecordSealer(algorithm, null), ...(nativeRecords() !== null ? [new RecordSealer(algorithm, nativeRecords())] : [])]
    for (const sealer of sealers) {
      const { slab, ranges } = slabOf(lengths)
      for (const [start, end] of ranges) sealer.note(slab, start, end)
      sealer.seal(slab)
      const wrong = ranges.filter(([start, end]) => slab.readUInt32LE(end) !== reference(slab.subarray(start, end)))
      t.same(wrong, [], `${sealer.batched ? 'native, batched' : 'record by record'}: ${ranges.length} records`)
      // Seal again with nothing noted: nothing changes.
      const before = Buffer.from(slab)
      sealer.seal(slab)
      t.ok(slab.equals(before), 'a second seal with nothing noted writes nothing')
    }
  })
}

// Only where it is built (the first test above says whether it should be).
const native = nativeRecords()
if (native !== null) {
  const { seal } = native
  t.test('the native functions refuse ranges outside the buffers, writing nothing', async (t) => {
    const buf = Buffer.alloc(64)
    const bad: Array<[string, () => void]> = [
      ['checksum past the end', () => { seal(buf, new Uint32Array([0, 10, 0, 61]), 2, 1) }],
      ['start after end', () => { seal(buf, new Uint32Array([9, 8]), 1, 1) }],
      ['more records than ranges', () => { seal(buf, new Uint32Array([0, 8]), 2, 1) }],
      ['unknown algorithm', () => { seal(buf, new Uint32Array([0, 8]), 1, 3 as 1) }]
    ]
    for (const [what, call] of bad) {
      t.throws(call, RangeError, what)
      t.ok(buf.equals(Buffer.alloc(64)), `${what}: nothing written`)
    }
    t.throws(() => { seal(new Uint16Array(8) as unknown as Uint8Array, new Uint32Array([0, 2]), 1, 1) }, TypeError, 'a buffer that is not bytes')
    t.throws(() => { (seal as (...args: unknown[]) => void)(buf, new Uint32Array([0, 2]), 1) }, TypeError, 'too few arguments')
    t.throws(() => { seal(buf, new Int32Array([0, 2]) as unknown as Uint32Array, 1, 1) }, TypeError, 'ranges that are not uint32')
  })
}

t.test('the encoder writes the same bytes with and without the native functions', async (t) => {
  // With them, checksums are written a slab at a time; the metadata strings are written the same way either way.
  const long = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const metadatas: Array<Record<string, string> | Array<[string, string]> | undefined> = [
    { event: 'cart.add', request_id: 'req_4f03f7d31974dcea' }, undefined, {}, { a: 'b' }, [['k', long], ['k2', '']],
    { key: long + 'é' }, { ['ké' + long]: 'v' }, { a: long, b: '€😀', c: '\u{10ffff} astral' }, [['ü', 'ß']],
    // A surrogate pair at a string's end and the next one's start: each string is written alone.
    { ['k😀']: '😀v' }
  ]
  const payloads: RecordInput['payload'][] = ['text', Buffer.from([0, 1, 2]), { json: true }, '', Buffer.alloc(2000, 9)]
  const records: RecordInput[] = []
  for (let i = 0; i < 4000; i++) {
    // Mostly ASCII slabs, some with one non-ASCII record among many.
    const metadata = i % 1500 === 700 || i % 3 === 1 && i > 3000 ? metadatas[5 + (i % 5)] : metadatas[i % 5]
    records.push({ metadata, payload: payloads[i % payloads.length] })
  }
  for (const checksum of ['crc32', 'crc32c'] as const) {
    for (const chunkSize of [64, 4096, 1024 * 1024]) {
      const encoders = [new ArchiveEncoder({ checksum, chunkSize }, { native: null }), new ArchiveEncoder({ checksum, chunkSize }, { native: nativeRecords() })]
      const outputs = encoders.map((encoder) => {
        const parts: Buffer[] = []
        records.forEach((record, i) => {
          encoder.write(record)
          if (i % 777 === 0) parts.push(...encoder.take())
          if (i % 101 === 0) parts.push(...encoder.takeFull())
        })
        parts.push(...encoder.take())
        t.equal(encoder.pendingBytes, 0, 'nothing pending after take()')
        return Buffer.concat(parts)
      })
      t.ok(outputs[0].equals(outputs[1]), `${checksum}, chunks of ${chunkSize}: the same ${outputs[0].length} bytes`)
      const decoded = await decodeRecords(outputs[1])
      t.equal(decoded.length, records.length, 'all decode, checksums valid')
    }
  }
})

t.test('pendingBytes grows by each record\'s final size as it is written, non-ASCII metadata too', async (t) => {
  // The rolling sink's size policies count on it.
  const records: RecordInput[] = [
    { metadata: { a: 'plain' }, payload: 'x' }, { metadata: { ké: '€😀' }, payload: 'y' }, { metadata: [['ü', 'ß']], payload: '' }
  ]
  for (const native of [null, nativeRecords()]) {
    const encoder = new ArchiveEncoder({}, { native })
    const sizes = records.map((record) => {
      const before = encoder.pendingBytes
      encoder.write(record)
      return encoder.pendingBytes - before
    })
    const out = Buffer.concat(encoder.take())
    const finalSizes = records.map((record) => encodeRecords([record]).length)
    t.same(sizes, finalSizes, `${native === null ? 'without' : 'with'} the native functions: each record's own size`)
    t.equal(out.length, finalSizes.reduce((a, b) => a + b, 0), 'and those bytes in the end')
  }
})

t.test('the encoder seals every record before its bytes leave it', async (t) => {
  // Tiny records (thousands per slab, past the sealer's first range table),
  // takes in the middle of a slab, and slabs switched by records that do not fit.
  const records: RecordInput[] = []
  for (let i = 0; i < 6000; i++) records.push({ metadata: { i: String(i) }, payload: i % 97 === 0 ? Buffer.alloc(3000, i) : `r${i}` })
  for (const algorithm of ['crc32', 'crc32c'] as const) {
    for (const [chunkSize, takeEvery] of [[64 * 1024, 1234], [1024 * 1024, Infinity]]) {
      const encoder = new ArchiveEncoder({ checksum: algorithm, chunkSize })
      const parts: Buffer[] = []
      records.forEach((record, i) => {
        encoder.write(record)
        if (i % takeEvery === 0) parts.push(...encoder.take())
        if (i % 555 === 0) parts.push(...encoder.takeFull())
      })
      parts.push(...encoder.take())
      // decodeRecords is strict: a single wrong checksum fails it.
      const decoded = await decodeRecords(Buffer.concat(parts))
      const what = `${algorithm}, chunks of ${chunkSize}`
      t.equal(decoded.length, records.length, `${what}: every record decodes with a valid checksum`)
      t.same(decoded.map((r) => r.metadata.i), records.map((_, i) => String(i)), `${what}: in order`)
    }
  }
})
