/**
 * A child for decode-memory.test.ts: decodes `count` records of `recordSize`
 * bytes, fed to decode() in fresh chunks of `chunkSize` bytes (as a file or
 * socket hands them over), and prints one JSON line: the records seen and the
 * resident set size before and at its peak. Kept apart from the test so that
 * tap's own memory is not counted.
 *
 * Usage: node decode-rss.js '{"recordSize":..,"count":..,"chunkSize":..}'
 */
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { decode } from '../../lib/format/decode.js'
import { encodeRecords } from '../../lib/format/encoder.js'
import type { ShoeboxRecord } from '../../lib/record.js'

interface Options { recordSize: number, count: number, chunkSize: number }

const { recordSize, count, chunkSize } = JSON.parse(process.argv[2] ?? '{}') as Options

/** The archive bytes of `count` copies of one record, in fresh chunks, made as they are asked for. */
function * chunks (record: Buffer): Generator<Buffer> {
  const total = record.length * count
  for (let at = 0; at < total;) {
    const n = Math.min(chunkSize, total - at)
    const chunk = Buffer.allocUnsafe(n)
    for (let filled = 0; filled < n;) {
      const from = (at + filled) % record.length
      filled += record.copy(chunk, filled, from, Math.min(record.length, from + n - filled))
    }
    at += n
    yield chunk
  }
}

async function main (): Promise<void> {
  // A v2 record without metadata is 32 bytes plus its payload.
  const record = encodeRecords([{ payload: Buffer.alloc(recordSize - 32, 0x61) }])
  const before = process.memoryUsage().rss
  let seen = 0
  let bytes = 0
  await pipeline(
    Readable.from(chunks(record), { objectMode: true }),
    decode(),
    new Writable({
      objectMode: true,
      write (r: ShoeboxRecord, _encoding, callback) {
        seen++
        bytes += r.payload.length
        callback()
      }
    })
  )
  const peak = process.resourceUsage().maxRSS * 1024
  process.stdout.write(JSON.stringify({ records: seen, payloadBytes: bytes, before, peak }) + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(String((err as Error).stack ?? err) + '\n')
  process.exitCode = 1
})
