/**
 * A put's events stamped (spec §5.2: @id always assigned, @time when absent
 * or null, every other byte as sent) straight into bytes: each event is
 * spliced at the @time/@id spans the body walk found (put-body.ts), with no
 * second scan and no string per event, into one scratch buffer, and at the
 * end copied once into a buffer of exactly the put's size that every event's
 * body is a view of. So a put costs one allocation for its texts, not one
 * string and one Buffer per event, and the memtable holds no slack.
 *
 * Events that stamping leaves byte for byte as sent (what shoebox's shipper
 * sends with the keep-ids header: @time given, a valid lower-case @id) are
 * not copied at all: their texts are views of the request body's bytes
 * (the slack held is the body's separators).
 *
 * The scratch buffer is shared: a stamper is used synchronously, from its
 * construction to finish(), with no await in between.
 */
import { formatEventId, newEventIdBytes } from '../event-id.js'
import { EventMembers, stampEventText } from '../event-text.js'
import { keptEventId } from '../kept-event-ids.js'
import { KEPT_AS_WRITTEN, keptIdInto, NOT_KEPT } from './kept-id-text.js'
import { readTimeInto } from './time-text.js'
import { kronosTimeNow } from '../kronos-time.js'
import type { PutRows } from '../store/put-rows.js'
import type { ElementSpans } from './put-body.js'

/** The most an event with at most one @time and one @id grows by when stamped (both added: `"@time":<20>,"@id":"<36>",`). */
const GROWTH = 80

const SCRATCH_BYTES = 1024 * 1024
let scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES)

export class PutStamper {
  /** The request body as read (valid UTF-8): events stamping leaves as sent are views of it. */
  readonly #bytes: Buffer
  readonly #m = new EventMembers()
  #pos = 0
  /** The rows whose texts are in the scratch buffer (rows and row numbers). */
  readonly #stampedRows: PutRows[] = []
  readonly #stamped: number[] = []
  /** Where each of those texts ends in the scratch buffer (it starts where the one before ends). */
  readonly #ends: number[] = []
  /** The total size of the texts that are views of #bytes (their rows' `where` say which: buffer 0). */
  #viewBytes = 0
  /** Every rows given to add(), in order; a put's events come stream by stream, so one check against the last mostly does. */
  readonly #allRows = new Set<PutRows>()
  #lastRows: PutRows | undefined

  /** Keep an @id the client sent when it is valid for the event's @time (kept-event-ids.ts). */
  readonly #keepIds: boolean

  constructor (bytes: Buffer, keepIds = false) {
    this.#bytes = bytes
    this.#keepIds = keepIds
  }

  /** The UTF-8 size of element `k`'s text. */
  byteLength (elements: ElementSpans, k: number): number {
    return elements.end(k) - elements.start(k)
  }

  /**
   * Stamp element `k` (a JSON object) into the next row of `rows` (its text
   * is placed by finish()). Throws InvalidEventTimeError for an @time that
   * is not an integer in range; the row is not taken then.
   */
  add (elements: ElementSpans, k: number, rows: PutRows): void {
    if (rows !== this.#lastRows) {
      this.#lastRows = rows
      this.#allRows.add(rows)
    }
    const m = elements.members(k, this.#m)
    if (m.timeCount > 1 || m.idCount > 1) {
      this.#addStamped(elements, k, rows)
      return
    }
    const bytes = this.#bytes
    const row = rows.count
    // @time null is replaced, absent is added; either way it is now (per event, as Kronos).
    const given = m.timeCount === 1 && readTimeInto(bytes, m.timeStart, m.timeEnd, rows.words, row)
    const rewriteTime = m.timeCount === 1 && !given
    if (!given) rows.times[row] = kronosTimeNow()
    const kept = this.#keepIds && m.idCount === 1 ? keptIdInto(bytes, m.idStart, m.idEnd, rows.words, row, rows.ids, 16 * row) : NOT_KEPT
    const start = elements.start(k)
    // What shoebox's shipper sends: @time given, and an @id kept as written (lower case, as
    // it is stored). Then stamping changes nothing, and the text is a view of the body's bytes.
    if (kept === KEPT_AS_WRITTEN && given) {
      rows.where[3 * row] = 0
      rows.where[3 * row + 1] = start
      rows.where[3 * row + 2] = m.end - start
      this.#viewBytes += m.end - start
      rows.count++
      return
    }
    if (kept === NOT_KEPT) newEventIdBytes(rows.times[row]).copy(rows.ids, 16 * row)
    this.#reserve(m.end - start + GROWTH)

    const out = scratch
    const ids = rows.ids
    let p = this.#pos
    out[p++] = 0x7B
    if (m.timeCount === 0) p += out.write(`"@time":${rows.times[row]},`, p, 'latin1')
    if (m.idCount === 0) {
      p += out.write('"@id":', p, 'latin1')
      p = writeQuotedId(out, p, ids, 16 * row)
      out[p++] = 0x2C
    }
    // The members added end in ',': it goes when the object had none.
    if (m.empty && (m.timeCount === 0 || m.idCount === 0)) p--
    let at = m.bodyStart
    const timeEdit = rewriteTime ? m.timeStart : -1
    const idEdit = m.idCount === 1 ? m.idStart : -1
    // At most two edits; the earlier first.
    const timeFirst = timeEdit >= 0 && (idEdit < 0 || timeEdit < idEdit)
    for (let e = 0; e < 2; e++) {
      const isTime = (e === 0) === timeFirst
      const editAt = isTime ? timeEdit : idEdit
      if (editAt < 0) continue
      p += bytes.copy(out, p, at, editAt)
      if (isTime) {
        p += out.write(rows.times[row].toString(), p, 'latin1')
      } else {
        p = writeQuotedId(out, p, ids, 16 * row)
      }
      at = isTime ? m.timeEnd : m.idEnd
    }
    p += bytes.copy(out, p, at, m.end)
    this.#push(rows, p)
  }

  /** Several @time or @id members (rare): every one is rewritten, by the general stamper (a second scan). */
  #addStamped (elements: ElementSpans, k: number, rows: PutRows): void {
    const row = rows.count
    const stamped = stampEventText(this.#bytes.toString('utf8', elements.start(k), elements.end(k)), {
      newId: (time, given) => {
        const id = (this.#keepIds ? keptEventId(given, time) : undefined) ?? newEventIdBytes(time)
        id.copy(rows.ids, 16 * row)
        return formatEventId(id)
      }
    })
    rows.times[row] = stamped.time
    this.#reserve(Buffer.byteLength(stamped.text))
    this.#push(rows, this.#pos + scratch.write(stamped.text, this.#pos, 'utf8'))
  }

  /** Row rows.count's text ends at `end` in the scratch buffer: the row is taken. */
  #push (rows: PutRows, end: number): void {
    // Buffer 1, the stamped texts (its place is set by finish()); 0 would read as a view.
    rows.where[3 * rows.count] = 1
    this.#stampedRows.push(rows)
    this.#stamped.push(rows.count++)
    this.#ends.push(end)
    this.#pos = end
  }

  /** Every row's text: a view of the body, or of one buffer holding exactly the stamped texts. */
  finish (): void {
    // Views keep the whole body alive: when they are less than half of it (a put of mostly
    // refused or rewritten events), their texts are copied out, so what the memtable counts
    // is what it holds.
    const bytes = this.#bytes
    const copyViews = this.#viewBytes * 2 < bytes.length
    if (copyViews) {
      for (const rows of this.#allRows) {
        const w = rows.where
        for (let row = 0; row < rows.count; row++) {
          if (w[3 * row] !== 0) continue
          const start = w[3 * row + 1]
          const length = w[3 * row + 2]
          this.#reserve(length)
          this.#stampedRows.push(rows)
          this.#stamped.push(row)
          this.#pos += bytes.copy(scratch, this.#pos, start, start + length)
          this.#ends.push(this.#pos)
        }
      }
    }
    const all = Buffer.allocUnsafeSlow(this.#pos)
    scratch.copy(all, 0, 0, this.#pos)
    // Each rows' buffers: 0 the body (when it has views of it), 1 the stamped texts.
    for (const rows of this.#allRows) rows.memory.push(copyViews ? all : bytes, all)
    let start = 0
    for (let i = 0; i < this.#stamped.length; i++) {
      const w = this.#stampedRows[i].where
      const row = this.#stamped[i]
      const end = this.#ends[i]
      w[3 * row] = 1
      w[3 * row + 1] = start
      w[3 * row + 2] = end - start
      start = end
    }
    // One huge put must not keep its scratch room for the life of the server.
    if (scratch.length > SCRATCH_BYTES) scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES)
  }

  /** Room for `bytes` more in the scratch buffer (it grows, keeping what is written). */
  #reserve (bytes: number): void {
    if (scratch.length - this.#pos >= bytes) return
    const bigger = Buffer.allocUnsafeSlow(Math.max(2 * scratch.length, this.#pos + bytes))
    scratch.copy(bigger, 0, 0, this.#pos)
    scratch = bigger
  }
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')

/**
 * The id as "8-4-4-4-12" lowercase hex in quotes, written at `p`; returns
 * the index after it: straight into the stamped bytes, no string made (the
 * store keeps ids as bytes; a run formats the text when it writes it).
 */
function writeQuotedId (out: Buffer, p: number, ids: Buffer, at: number): number {
  out[p++] = 0x22
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out[p++] = 0x2D
    const b = ids[at + i]
    out[p++] = HEX_DIGITS[b >> 4]
    out[p++] = HEX_DIGITS[b & 15]
  }
  out[p++] = 0x22
  return p
}
