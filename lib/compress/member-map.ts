/**
 * Which gzip member each decompressed byte came from: the side channel from
 * gunzipMembers() to decode(), so a record's position can name the member to fetch
 * it from with one ranged read. The stage appends a member when its header is
 * read, before any of its bytes go out, so the map is always ahead of the
 * decoder that looks offsets up.
 */

import { invalidOption } from '../errors.js'
import type { MemberLookup, MemberPosition, MemberSpan, Position, SpanLookup } from '../record.js'

export type { MemberLookup, MemberPosition, MemberSpan, SpanLookup }

/** Entries kept behind the last lookup before the lists are compacted. */
const COMPACT_AFTER = 1024

export class MemberMap implements MemberLookup, SpanLookup {
  /** Decompressed offset of each member's first byte, increasing. */
  #starts: number[] = []
  /** Compressed offset of each member's header. */
  #offsets: number[] = []
  /** Compressed length of each member, where known when it was added. */
  #lengths: Array<number | undefined> = []
  /** Index of the member found by the last lookup; lookups never go back before it. */
  #head = 0

  /**
   * Record a member that starts at `compressed` in the file and whose first
   * byte is decompressed byte `decompressed`; `length`, its compressed length
   * if known.
   */
  add (decompressed: number, compressed: number, length?: number): void {
    this.#starts.push(decompressed)
    this.#offsets.push(compressed)
    this.#lengths.push(length)
  }

  /** Members added so far and still held. */
  get size (): number {
    return this.#starts.length - this.#head
  }

  /**
   * The member holding decompressed byte `offset` (for a record that spans two
   * members, the one it starts in). Lookups must come in non-decreasing offset
   * order, as a decoder reports records: that makes each one O(1) amortised and
   * lets the map forget members behind it (a file of tiny members stays small).
   * Undefined for an offset before the members still held.
   */
  at (offset: number): MemberPosition | undefined {
    const i = this.#find(offset)
    return i < 0 ? undefined : { offset: this.#offsets[i], skip: offset - this.#starts[i] }
  }

  /** The member holding decompressed byte `offset`, whole; lookups in non-decreasing order, shared with at(). */
  span (offset: number): MemberSpan | undefined {
    const i = this.#find(offset)
    return i < 0 ? undefined : { offset: this.#offsets[i], length: this.#lengths[i], start: this.#starts[i] }
  }

  /** Index of the member holding `offset` (-1: none held), moving the head to it. */
  #find (offset: number): number {
    const starts = this.#starts
    let i = this.#head
    if (i >= starts.length || offset < starts[i]) return -1
    // Empty members share a start with the next: take the last one at or before `offset`, which holds its byte.
    while (i + 1 < starts.length && starts[i + 1] <= offset) i++
    this.#head = i
    if (i >= COMPACT_AFTER) {
      starts.splice(0, i)
      this.#offsets.splice(0, i)
      this.#lengths.splice(0, i)
      this.#head = 0
      i = 0
    }
    return i
  }
}

/**
 * Where reading resumes for `position`: its member's compressed and
 * decompressed starts. Undefined without a member. Here rather than in
 * open-at.ts, so that the factories that check a position at once
 * (archiveSource's `from`, `positions`) do not load the reading stages.
 */
export function memberStart (position: Position): { compressed: number, decompressed: number } | undefined {
  const member = position.member
  if (member === undefined) return undefined
  const { offset, skip } = member
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(skip) || skip < 0 || skip > position.offset) {
    throw invalidOption('from.member', `must be { offset, skip } taken from a record's position, with 0 <= skip <= offset, got ${JSON.stringify(member)}`)
  }
  // The first member's output is the file's first bytes: a pair that says otherwise numbered every record wrong.
  if (offset === 0 && skip !== position.offset) {
    throw invalidOption('from.member', `the member at compressed byte 0 starts the file: its skip must equal the offset, got offset ${position.offset} and ${JSON.stringify(member)}`)
  }
  return { compressed: offset, decompressed: position.offset - skip }
}
