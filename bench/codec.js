/**
 * Codec benchmark: shoebox against avsc (object container, null codec) and
 * msgpackr over the same 200k records (payload Buffers of 400–600 B, 4
 * metadata keys), in one process. avsc's BlockEncoder is fed one record per
 * write(); shoebox's encode() stream both that way and in arrays of 1000.
 *
 *   node --expose-gc bench/codec.js            prints a Markdown table
 *   node --expose-gc bench/codec.js --json     prints the result as JSON (for run.js)
 *
 * Env: BENCH_RECORDS (default 200000), BENCH_RUNS (timed runs, default 8, min 5).
 *
 * Every MB/s figure divides by the size of the *shoebox* encoding of the
 * records (MB = 1e6 bytes), in the peer columns too, so MB/s and records/s
 * give the same ratio; each format's own size is printed alongside.
 */
import { fileURLToPath } from 'node:url'
import avro from 'avsc'
import { pack, unpack, UnpackrStream } from 'msgpackr'
import { ArchiveDecoder, ArchiveEncoder, decode, encode, encodeRecords } from '../dist/index.js'
import { makeRecords } from './data.js'
import { chunks, drive, log, markdownTable, row, timeRoundRobin } from './util.js'

const MiB = 1024 * 1024

/** The Avro equivalent of a shoebox record. */
export const AVRO_SCHEMA = {
  type: 'record',
  name: 'ShoeboxRecord',
  fields: [
    { name: 'metadata', type: { type: 'map', values: 'string' } },
    { name: 'payload', type: 'bytes' }
  ]
}

function collect (stream, items) {
  const parts = []
  stream.on('data', (b) => { parts.push(b) })
  return drive(stream, items).then(() => Buffer.concat(parts))
}

export async function runCodec ({ records: n = Number(process.env.BENCH_RECORDS ?? 200_000) } = {}) {
  log(`codec: generating ${n} records`)
  const records = makeRecords(n)
  const batches = []
  for (let i = 0; i < n; i += 1000) batches.push(records.slice(i, i + 1000))
  const avroType = avro.Type.forSchema(AVRO_SCHEMA)

  // The encoded forms, made once, for the decoders and for the sizes.
  const shoeboxBytes = encodeRecords(records)
  const avroBytes = await collect(new avro.streams.BlockEncoder(avroType, { codec: 'null' }), records)
  const packs = records.map((r) => pack(r))
  const msgpackBytes = Buffer.concat(packs)
  const prefixed = Buffer.allocUnsafe(msgpackBytes.length + 4 * n)
  for (let i = 0, off = 0; i < n; i++) {
    prefixed.writeUInt32LE(packs[i].length, off)
    off += 4 + packs[i].copy(prefixed, off + 4)
  }
  packs.length = 0
  const sizes = {
    records: n,
    payloadBytes: records.reduce((s, r) => s + r.payload.length, 0),
    shoebox: shoeboxBytes.length,
    avro: avroBytes.length,
    msgpack: msgpackBytes.length
  }
  log(`codec: bytes per record: payload ${(sizes.payloadBytes / n).toFixed(1)}, shoebox ${(sizes.shoebox / n).toFixed(1)}, ` +
    `avro ${(sizes.avro / n).toFixed(1)}, msgpack ${(sizes.msgpack / n).toFixed(1)}`)

  // ---- encode ----
  const enc = {
    'shoebox ArchiveEncoder': () => {
      const encoder = new ArchiveEncoder()
      let bytes = 0
      for (let i = 0; i < n; i++) {
        encoder.write(records[i])
        if (encoder.pendingBytes >= encoder.chunkSize) for (const b of encoder.take()) bytes += b.length
      }
      for (const b of encoder.take()) bytes += b.length
      if (bytes !== sizes.shoebox) throw new Error(`ArchiveEncoder wrote ${bytes} bytes, expected ${sizes.shoebox}`)
      return n
    },
    // The natural pipeline(source, encode(), sink): one record per write(), as avsc is fed.
    'shoebox encode() stream, one record per write': async () => {
      const stream = encode()
      let bytes = 0
      stream.on('data', (b) => { bytes += b.length })
      await drive(stream, records)
      if (bytes !== sizes.shoebox) throw new Error(`encode() wrote ${bytes} bytes, expected ${sizes.shoebox}`)
      return stream.records
    },
    'shoebox encode() stream, arrays of 1000': async () => {
      const stream = encode()
      let bytes = 0
      stream.on('data', (b) => { bytes += b.length })
      await drive(stream, batches)
      if (bytes !== sizes.shoebox) throw new Error(`encode() wrote ${bytes} bytes, expected ${sizes.shoebox}`)
      return stream.records
    },
    'avsc BlockEncoder (null codec)': async () => {
      const stream = new avro.streams.BlockEncoder(avroType, { codec: 'null' })
      let bytes = 0
      stream.on('data', (b) => { bytes += b.length })
      await drive(stream, records)
      if (bytes !== sizes.avro) throw new Error(`BlockEncoder wrote ${bytes} bytes, expected ${sizes.avro}`)
      return n
    },
    'msgpackr pack per record': () => {
      let bytes = 0
      for (let i = 0; i < n; i++) bytes += pack(records[i]).length
      if (bytes !== sizes.msgpack) throw new Error(`pack wrote ${bytes} bytes, expected ${sizes.msgpack}`)
      return n
    }
  }
  const encT = await timeRoundRobin(Object.entries(enc).map(([name, run]) => ({ name, run })), { expected: n, label: 'encode ' })

  // ---- decode ----
  const shoeboxChunks = chunks(shoeboxBytes, MiB)
  const avroChunks = chunks(avroBytes, MiB)
  const msgpackChunks = chunks(msgpackBytes, MiB)
  let sink = 0 // payload bytes seen, so nothing is optimised away
  const dec = {
    'shoebox decode() stream': async () => {
      const stream = decode()
      let count = 0
      stream.on('data', (r) => { count++; sink += r.payload.length })
      await drive(stream, shoeboxChunks)
      return count
    },
    'shoebox ArchiveDecoder (no stream)': () => {
      let count = 0
      const decoder = new ArchiveDecoder({ record: (r) => { count++; sink += r.payload.length }, corrupt: () => {} })
      for (const c of shoeboxChunks) decoder.write(c)
      decoder.end()
      return count
    },
    'avsc BlockDecoder': async () => {
      const stream = new avro.streams.BlockDecoder()
      let count = 0
      stream.on('data', (r) => { count++; sink += r.payload.length })
      await drive(stream, avroChunks)
      return count
    },
    'msgpackr UnpackrStream': async () => {
      // useRecords: false as the default pack/unpack (plain objects, not Maps)
      const stream = new UnpackrStream({ useRecords: false })
      let count = 0
      stream.on('data', (r) => { count++; sink += r.payload.length })
      await drive(stream, msgpackChunks)
      return count
    },
    'msgpackr unpack loop, length-prefixed': () => {
      let count = 0
      for (let off = 0; off < prefixed.length;) {
        const len = prefixed.readUInt32LE(off)
        const r = unpack(prefixed.subarray(off + 4, off + 4 + len))
        off += 4 + len
        count++
        sink += r.payload.length
      }
      return count
    }
  }
  const decT = await timeRoundRobin(Object.entries(dec).map(([name, run]) => ({ name, run })), { expected: n, label: 'decode ' })
  if (sink === 0) throw new Error('no payload bytes seen')

  const m = (t, name) => t.get(name)
  const work = { records: n, bytes: sizes.shoebox }
  const rows = [
    row('encode: ArchiveEncoder (Buffer payloads)', 'avsc BlockEncoder, null codec',
      { ...work, shoebox: m(encT, 'shoebox ArchiveEncoder'), peer: m(encT, 'avsc BlockEncoder (null codec)') }),
    row('encode: encode() stream, one record per write', 'avsc BlockEncoder, null codec',
      { ...work, shoebox: m(encT, 'shoebox encode() stream, one record per write'), peer: m(encT, 'avsc BlockEncoder (null codec)') }),
    row('encode: encode() stream, arrays of 1000', 'avsc BlockEncoder, null codec',
      { ...work, shoebox: m(encT, 'shoebox encode() stream, arrays of 1000'), peer: m(encT, 'avsc BlockEncoder (null codec)') }),
    row('encode: ArchiveEncoder (Buffer payloads)', 'msgpackr pack per record',
      { ...work, shoebox: m(encT, 'shoebox ArchiveEncoder'), peer: m(encT, 'msgpackr pack per record') }),
    row('decode: decode() stream, 1 MiB chunks', 'avsc BlockDecoder, 1 MiB chunks',
      { ...work, shoebox: m(decT, 'shoebox decode() stream'), peer: m(decT, 'avsc BlockDecoder') }),
    row('decode: ArchiveDecoder (no stream), 1 MiB chunks', 'avsc BlockDecoder, 1 MiB chunks',
      { ...work, shoebox: m(decT, 'shoebox ArchiveDecoder (no stream)'), peer: m(decT, 'avsc BlockDecoder') }),
    row('decode: decode() stream, 1 MiB chunks', 'msgpackr UnpackrStream, 1 MiB chunks',
      { ...work, shoebox: m(decT, 'shoebox decode() stream'), peer: m(decT, 'msgpackr UnpackrStream') }),
    row('decode: decode() stream, 1 MiB chunks', 'msgpackr unpack loop, length-prefixed',
      { ...work, shoebox: m(decT, 'shoebox decode() stream'), peer: m(decT, 'msgpackr unpack loop, length-prefixed') })
  ]
  const timings = {}
  for (const [name, r] of [...encT, ...decT]) timings[name] = r
  return { sizes, rows, timings }
}

export function sizesLine (sizes) {
  const per = (b) => (b / sizes.records).toFixed(1)
  return `Codec data: ${sizes.records} records, payload ${per(sizes.payloadBytes)} B/record; encoded size ` +
    `shoebox ${per(sizes.shoebox)} B/record (${(sizes.shoebox / 1e6).toFixed(1)} MB), avro ${per(sizes.avro)}, msgpack ${per(sizes.msgpack)}. ` +
    'Codec MB/s = shoebox encoded MB / s in every column.'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (globalThis.gc === undefined) log('codec: run with --expose-gc to collect garbage between runs')
  const result = await runCodec()
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result) + '\n')
  } else {
    console.log(markdownTable(result.rows))
    console.log()
    console.log(sizesLine(result.sizes))
  }
}
