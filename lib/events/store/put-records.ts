/**
 * The log's record for a put: one v2 record per put and stream (more when
 * its events pass MAX_PUT_RECORD_PAYLOAD), metadata `ns`, `s` and `n` (the
 * event count), payload a table and then the texts:
 *
 *   per event, 28 bytes: time (int64 LE, kronos ticks), id (16 bytes),
 *                        text length (uint32 LE)
 *   then the event texts, back to back, in table order
 *
 * Before this, the log held one record per event (metadata ns, s, t, id;
 * payload the text), so each event was encoded twice, once for the log and
 * once for its run: a decimal time, an id text, a metadata layout and a
 * checksum each time. Now the log costs one table row and one copy of the
 * text per event, and one checksum per put. Runs keep their per-event
 * layout (run-file.ts), which `shoebox decode` and every reader read.
 *
 * Recovery reads both: a record with `n` is a put record (all its events,
 * or, should the table not match the payload, SHOEBOX_BAD_RECORD and the
 * store does not open); a record with `t` and `id` is the old one-event
 * record, replayed as before. So a log written by an older server, or one
 * continued by this one, replays whole.
 */
import { encodeWithSharedEncoder } from './event-records.js'
import { ShoeboxError } from '../../errors.js'
import { LOW_WORD, rowsOf, type PutBatch, type PutRows } from './put-rows.js'
import type { StoredEvent } from './stored-event.js'

/** Bytes per event in the table. */
const ROW = 28

export type PutGroup = PutBatch

/**
 * Largest payload of one put record. A stream's events past it go on in the
 * next record (each replays on its own): a 16 MiB put of 5.6 million `{}`
 * events made one 559 MB record, over the log's 64 MiB record limit, and the
 * put failed with a 503 that every retry met again.
 */
export const MAX_PUT_RECORD_PAYLOAD = 32 * 1024 * 1024

/** The put's groups (those with events) as log records in one buffer (empty when there are none). */
export function encodePutRecords (ns: string, groups: readonly PutGroup[], maxPayload = MAX_PUT_RECORD_PAYLOAD): Buffer {
  return encodeWithSharedEncoder((encoder) => {
    for (const group of groups) {
      const rows = rowsOf(group)
      // Rows [from, to) per record, at least one each: an event is never split.
      for (let from = 0; from < rows.count;) {
        let to = from + 1
        let size = ROW + rows.where[3 * from + 2]
        while (to < rows.count && size + ROW + rows.where[3 * to + 2] <= maxPayload) size += ROW + rows.where[3 * to++ + 2]
        const payload = putPayload(rows, from, to, size)
        encoder.writeRange(['ns', ns, 's', group.stream, 'n', String(to - from)], payload, 0, payload.length)
        from = to
      }
    }
  })
}

/**
 * The payload is built in one scratch buffer reused by every put (the encoder
 * copies it into the record): a second put-sized allocation per put was
 * external memory that made V8 ask for full collections. Used synchronously.
 */
const SCRATCH_BYTES = 1024 * 1024
let scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES)
/** `scratch` as 32-bit words (it starts at offset 0 of its own memory; rows are 7 words). */
let scratchWords = new Uint32Array(scratch.buffer, 0, SCRATCH_BYTES >> 2)

/** The table's words are little-endian on this machine (else writeUInt32LE, ~3x the cost). */
const LE = LOW_WORD === 0

/** Rows [first, end) of `rows` as a put record's payload of `size` bytes. */
function putPayload (rows: PutRows, first: number, end: number, size: number): Buffer {
  const n = end - first
  // One huge put must not keep its scratch room for the life of the server.
  if (scratch.length < size || scratch.length > SCRATCH_BYTES) {
    scratch = Buffer.allocUnsafeSlow(Math.max(size, SCRATCH_BYTES))
    scratchWords = new Uint32Array(scratch.buffer, 0, scratch.length >> 2)
  }
  const out = scratch.subarray(0, size)
  const table = scratchWords
  const { words, ids, where, memory } = rows
  let at = ROW * n
  for (let i = first, row = 0; i < end; i++, row += ROW) {
    const length = where[3 * i + 2]
    if (LE) {
      const w = row >> 2
      table[w] = words[2 * i]
      table[w + 1] = words[2 * i + 1]
      table[w + 6] = length
    } else {
      out.writeUInt32LE(words[2 * i + LOW_WORD], row)
      out.writeUInt32LE(words[2 * i + 1 - LOW_WORD], row + 4)
      out.writeUInt32LE(length, row + 24)
    }
    // The 16 id bytes by hand: a native copy call costs more than 16 stores.
    for (let b = 0, from = 16 * i; b < 16; b++) out[row + 8 + b] = ids[from + b]
    // TypedArray#set over a plain Uint8Array view: Buffer#copy's argument checks and its
    // three calls deep path cost about as much as the ~300-byte copy itself.
    const from = memory[where[3 * i]]
    out.set(new Uint8Array(from.buffer, from.byteOffset + where[3 * i + 1], length), at)
    at += length
  }
  return out
}

/** Whether a log record's metadata is a put record's (else an older one-event record or a delete). */
export function isPutRecord (metadata: Record<string, string>): boolean {
  return metadata.n !== undefined
}

/** A put record's events; their ids and texts are views of `payload`. */
export function decodePutRecord (metadata: Record<string, string>, payload: Buffer): StoredEvent[] {
  const n = Number(metadata.n)
  if (!Number.isSafeInteger(n) || n < 0 || n * ROW > payload.length) throw badRecord(metadata, `an event count of ${metadata.n} does not fit its ${payload.length} bytes`)
  const events: StoredEvent[] = []
  let at = n * ROW
  for (let row = 0; row < n * ROW; row += ROW) {
    const length = payload.readUInt32LE(row + 24)
    if (at + length > payload.length) throw badRecord(metadata, `event ${row / ROW} runs past the record's end`)
    events.push({ time: payload.readBigInt64LE(row), id: payload.subarray(row + 8, row + 24), body: payload.subarray(at, at + length) })
    at += length
  }
  if (at !== payload.length) throw badRecord(metadata, `${payload.length - at} bytes after the last event`)
  return events
}

function badRecord (metadata: Record<string, string>, why: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_BAD_RECORD', `event log: put record of stream ${JSON.stringify(metadata.s)}: ${why}`)
}
