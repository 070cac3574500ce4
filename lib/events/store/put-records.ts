/**
 * The log's record for a put: one v2 record per put and stream, metadata
 * `ns`, `s` and `n` (the event count), payload a table and then the texts:
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
import { ArchiveEncoder } from '../../format/encoder.js'
import { ShoeboxError } from '../../errors.js'
import type { StoredEvent } from './stored-event.js'

/** Bytes per event in the table. */
const ROW = 28

export interface PutGroup {
  stream: string
  events: readonly StoredEvent[]
}

/**
 * One encoder for every put, used synchronously: a new encoder per put cost
 * its tables (~56 KiB of typed arrays) and a put-sized slab, external memory
 * that made V8 ask for full collections. Its 1 MiB slabs are carved into
 * the puts' records; the log holds a record (and so its slab) only until it
 * is written.
 */
let shared: ArchiveEncoder | undefined

/** The put's groups (those with events) as log records in one buffer (empty when there are none). */
export function encodePutRecords (ns: string, groups: readonly PutGroup[]): Buffer {
  const encoder = shared ??= new ArchiveEncoder({ chunkSize: 1024 * 1024 })
  let any = false
  try {
    for (const { stream, events } of groups) {
      if (events.length === 0) continue
      any = true
      const payload = putPayload(events)
      encoder.writeRange(['ns', ns, 's', stream, 'n', String(events.length)], payload, 0, payload.length)
    }
  } catch (err) {
    // A refused record (over maxRecordSize) must not leave this put's earlier records for the next put's take().
    encoder.take()
    throw err
  }
  if (!any) return Buffer.alloc(0)
  const parts = encoder.take()
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/**
 * The payload is built in one scratch buffer reused by every put (the encoder
 * copies it into the record): a second put-sized allocation per put was
 * external memory that made V8 ask for full collections. Used synchronously.
 */
const SCRATCH_BYTES = 1024 * 1024
let scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES)

function putPayload (events: readonly StoredEvent[]): Buffer {
  let texts = 0
  for (const e of events) texts += e.body.length
  const size = ROW * events.length + texts
  // One huge put must not keep its scratch room for the life of the server.
  if (scratch.length < size || scratch.length > SCRATCH_BYTES) scratch = Buffer.allocUnsafeSlow(Math.max(size, SCRATCH_BYTES))
  const out = scratch.subarray(0, size)
  let row = 0
  let at = ROW * events.length
  for (const e of events) {
    writeTime(e.time, out, row)
    copy16(e.id, out, row + 8)
    out.writeUInt32LE(e.body.length, row + 24)
    at += e.body.copy(out, at)
    row += ROW
  }
  return out
}

/**
 * A time's 8 bytes through a one-element BigInt64Array: Buffer's
 * writeBigInt64LE splits the bigint with bigint operations and cost ~100 ns
 * an event; this store does not. Host byte order is little-endian wherever
 * Node runs today; on a big-endian host the Buffer method is used.
 */
const timeCell = new BigInt64Array(1)
const timeBytes = new Uint8Array(timeCell.buffer)
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function writeTime (time: bigint, to: Buffer, at: number): void {
  if (!LITTLE_ENDIAN) {
    to.writeBigInt64LE(time, at)
    return
  }
  timeCell[0] = time
  for (let i = 0; i < 8; i++) to[at + i] = timeBytes[i]
}

/** The 16 id bytes by hand: a native copy call costs more than 16 stores. */
function copy16 (from: Buffer, to: Buffer, at: number): void {
  for (let i = 0; i < 16; i++) to[at + i] = from[i]
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
