/**
 * The elements of one top-level JSON array, found in its bytes as they come,
 * each handed on as soon as its last byte has arrived. Only the current
 * element is kept (so a huge array of small elements takes constant memory),
 * and it is handed on as bytes: the caller checks its UTF-8 and parses it
 * (json-exact.ts), so a bad byte or a syntax error is that element's alone.
 *
 * The scan keeps constant state: where it is (before the array, inside an
 * element, between elements, after the array), inside a string or not,
 * after a backslash or not, and the element's nesting (a counter, with the
 * kind of each bracket for the first MAX_JSON_DEPTH levels, so that a `}`
 * closing a `[` is seen). Nothing but brackets and quotes decides where an
 * element ends, so an element that is not valid JSON inside (a missing
 * colon, a bad escape, a raw newline in a string, a byte that is not UTF-8)
 * still ends where its brackets close, and the elements after it are read.
 *
 * What it cannot step over is damage to the array itself: a file that ends
 * inside an element (a writer killed mid-file), a byte between elements that
 * is not `,` or `]`, text after the closing `]`, a `}` closing a `[`, or no
 * array at the top. That is an ArrayDamage naming the byte offset, returned
 * (never thrown) after every element before it was handed on; the splitter
 * then takes no more. A UTF-8 byte order mark at the start is skipped.
 */
import { LeadingBom } from '../stream/leading-bom.js'
import { plural } from '../plural.js'
import { MAX_JSON_DEPTH } from './json-scan.js'

/**
 * The largest element kept, in bytes: 64 MiB, the archive readers' default
 * maxRecordSize (format/constants.ts), so no metadata object larger than a
 * record shoebox reads back by default is taken from a file either; one
 * parsed costs several times its size in memory. A larger element is
 * stepped over, not kept, and reported as its own problem.
 */
export const MAX_ARRAY_ELEMENT_BYTES = 64 * 1024 * 1024

/** One complete element of the array. `bytes` is valid only during the call it is handed to. */
export interface ArrayElement {
  /** Its place in the array, from 0. */
  index: number
  /** The byte offset in the input of its first byte. */
  offset: number
  /** Its bytes (empty when `problem` is set: they were not kept). */
  bytes: Buffer
  /** Why it was stepped over rather than kept (too large). */
  problem?: string
}

/** Damage to the array itself: where (a byte offset in the input) and why. */
export interface ArrayDamage {
  offset: number
  why: string
}

// Where the scan is.
const BEFORE_ARRAY = 0
const ARRAY_START = 1 // past '['
const AFTER_COMMA = 2
const IN_ELEMENT = 3
const AFTER_ELEMENT = 4
const AFTER_ARRAY = 5
const BROKEN = 6
// The kind of element being scanned.
const CONTAINER = 0
const STRING = 1
const BARE = 2 // a number or literal

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

function isSpace (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/** Ends a number or literal element (true, 12.5, or a bad one): white space or structure. */
function endsBare (c: number): boolean {
  return isSpace(c) || c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || c === OPEN_ARRAY ||
    c === OPEN_OBJECT || c === QUOTE || c === COLON
}

/** A byte as a message shows it: 'x' when printable ASCII, else its value. */
function describeByte (c: number): string {
  return c > 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0').toUpperCase()}`
}

const EMPTY = Buffer.alloc(0)
/** A kept buffer larger than this is let go once its element is handed on. */
const KEEP_PENDING = 1024 * 1024

export class JsonArraySplitter {
  readonly #onElement: (element: ArrayElement) => void
  readonly #maxElementBytes: number
  readonly #bom = new LeadingBom()
  #where: number = BEFORE_ARRAY
  /** Input bytes taken so far (the offset of the next chunk's first byte). */
  #taken = 0
  /** Elements handed on. */
  #count = 0
  // The current element.
  #kind: number = CONTAINER
  #start = 0
  #depth = 0
  readonly #closers = new Uint8Array(MAX_JSON_DEPTH)
  #inString = false
  #escaped = false
  #stringStart = 0
  /** Its bytes from earlier chunks, the first #pendingLength of them. */
  #pending = EMPTY
  #pendingLength = 0
  /** Set once the element outgrew #maxElementBytes: its bytes are no longer kept. */
  #tooLarge = false

  /** `onElement` is called with each element as it completes, in order. */
  constructor (onElement: (element: ArrayElement) => void, options: { maxElementBytes?: number } = {}) {
    this.#onElement = onElement
    this.#maxElementBytes = options.maxElementBytes ?? MAX_ARRAY_ELEMENT_BYTES
  }

  /** Input bytes taken so far. */
  get taken (): number {
    return this.#taken
  }

  /** Elements handed on so far. */
  get elements (): number {
    return this.#count
  }

  /** Scans `chunk`, handing on each element it completes; damage ends the scan (later calls do nothing). */
  write (chunk: Buffer): ArrayDamage | null {
    if (this.#where === BROKEN) return null
    const bytes = this.#bom.strip(chunk)
    this.#taken += chunk.length
    return this.#scan(bytes)
  }

  /** At the input's end: damage if the array did not close (or never began). */
  end (): ArrayDamage | null {
    if (this.#where === BROKEN) return null
    const held = this.#bom.end()
    if (held.length > 0) {
      const damage = this.#scan(held)
      if (damage !== null) return damage
    }
    const at = this.#taken
    switch (this.#where) {
      case AFTER_ARRAY: return null
      case BEFORE_ARRAY: return this.#broken(at, at > 0 ? 'no JSON array: the file holds only white space' : 'no JSON array: the file is empty')
      case IN_ELEMENT: {
        const inString = this.#inString ? `, inside a string begun at byte ${this.#stringStart}` : ''
        return this.#broken(at, `the file ends inside element ${this.#count + 1}, begun at byte ${this.#start}${inString} (${this.#whole()})`)
      }
      default: return this.#broken(at, `the file ends before the array's closing ']' (${this.#whole()})`)
    }
  }

  #whole (): string {
    return `${plural(this.#count, 'whole element')} before it`
  }

  #broken (offset: number, why: string): ArrayDamage {
    this.#where = BROKEN
    this.#release()
    return { offset, why }
  }

  /** `bytes` begin at input offset #taken - bytes.length. */
  #scan (bytes: Buffer): ArrayDamage | null {
    const base = this.#taken - bytes.length
    const n = bytes.length
    /** Where the current element begins in `bytes` (0 if it began before them). */
    let from = 0
    let i = 0
    while (i < n) {
      switch (this.#where) {
        case IN_ELEMENT: {
          const end = this.#kind === CONTAINER ? this.#container(bytes, i, base) : this.#kind === STRING ? this.#string(bytes, i) : this.#bare(bytes, i)
          if (end < 0) {
            // -2 - offset: a closer that does not match
            if (end < -1) return this.#broken(base + (-2 - end), `${describeByte(bytes[-2 - end])} closes a '${this.#closers[this.#depth - 1] === CLOSE_ARRAY ? '[' : '{'}' in element ${this.#count + 1}, begun at byte ${this.#start} (${this.#whole()})`)
            i = n
            break
          }
          this.#complete(bytes, from, end)
          i = end
          this.#where = AFTER_ELEMENT
          break
        }
        case BEFORE_ARRAY: {
          const c = bytes[i]
          if (isSpace(c)) { i++; break }
          if (c !== OPEN_ARRAY) return this.#broken(base + i, `not a JSON array at the top: it begins with ${describeByte(c)}`)
          this.#where = ARRAY_START
          i++
          break
        }
        case ARRAY_START:
        case AFTER_COMMA: {
          const c = bytes[i]
          if (isSpace(c)) { i++; break }
          if (c === CLOSE_ARRAY && this.#where === ARRAY_START) {
            this.#where = AFTER_ARRAY
            i++
            break
          }
          if (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || c === COLON) {
            const expected = this.#where === ARRAY_START ? "an element or ']'" : "an element after ','"
            return this.#broken(base + i, `expected ${expected}, got ${describeByte(c)} (${this.#whole()})`)
          }
          this.#begin(c, base + i)
          from = i
          // a container or string element begins past its first byte; a bare one at it
          if (this.#kind !== BARE) i++
          this.#where = IN_ELEMENT
          break
        }
        case AFTER_ELEMENT: {
          const c = bytes[i]
          if (isSpace(c)) { i++; break }
          if (c === COMMA) this.#where = AFTER_COMMA
          else if (c === CLOSE_ARRAY) this.#where = AFTER_ARRAY
          else return this.#broken(base + i, `expected ',' or ']' after element ${this.#count}, got ${describeByte(c)} (${this.#whole()})`)
          i++
          break
        }
        case AFTER_ARRAY: {
          const c = bytes[i]
          if (isSpace(c)) { i++; break }
          return this.#broken(base + i, `text after the array's closing ']': ${describeByte(c)} (every element read: ${plural(this.#count, 'element')})`)
        }
        case BROKEN:
          return null
      }
    }
    if (this.#where === IN_ELEMENT) this.#keep(bytes.subarray(from))
    return null
  }

  #begin (c: number, offset: number): void {
    this.#start = offset
    this.#pendingLength = 0
    this.#tooLarge = false
    this.#inString = false
    this.#escaped = false
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      this.#kind = CONTAINER
      this.#depth = 1
      this.#closers[0] = c === OPEN_ARRAY ? CLOSE_ARRAY : CLOSE_OBJECT
    } else if (c === QUOTE) {
      this.#kind = STRING
      this.#inString = true
      this.#stringStart = offset
    } else {
      this.#kind = BARE
    }
  }

  /**
   * A container element from `i` on: the index past its closing bracket,
   * -1 if it goes on past `bytes`, or -2 - the index of a closer that does
   * not match its opener.
   */
  #container (bytes: Buffer, i: number, base: number): number {
    const n = bytes.length
    let depth = this.#depth
    let inString = this.#inString
    let escaped = this.#escaped
    for (; i < n; i++) {
      const c = bytes[i]
      if (inString) {
        if (escaped) escaped = false
        else if (c === BACKSLASH) escaped = true
        else if (c === QUOTE) inString = false
      } else if (c === QUOTE) {
        inString = true
        this.#stringStart = base + i
      } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
        if (depth < MAX_JSON_DEPTH) this.#closers[depth] = c === OPEN_ARRAY ? CLOSE_ARRAY : CLOSE_OBJECT
        depth++
      } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
        // Deeper than the kinds kept, the count alone decides (the parser refuses such an element anyway).
        if (depth <= MAX_JSON_DEPTH && this.#closers[depth - 1] !== c) {
          this.#depth = depth
          return -2 - i
        }
        if (--depth === 0) {
          this.#depth = 0
          return i + 1
        }
      }
    }
    this.#depth = depth
    this.#inString = inString
    this.#escaped = escaped
    return -1
  }

  /** A string element from `i` on (past its opening quote): the index past its closing quote, or -1. */
  #string (bytes: Buffer, i: number): number {
    const n = bytes.length
    let escaped = this.#escaped
    for (; i < n; i++) {
      const c = bytes[i]
      if (escaped) escaped = false
      else if (c === BACKSLASH) escaped = true
      else if (c === QUOTE) return i + 1
    }
    this.#escaped = escaped
    return -1
  }

  /** A number or literal from `i` on: the index of the byte that ends it, or -1. */
  #bare (bytes: Buffer, i: number): number {
    const n = bytes.length
    for (; i < n; i++) if (endsBare(bytes[i])) return i
    return -1
  }

  /** The element ends at `end` in `bytes` (begun at `from`, or before `bytes` when it has pending bytes). */
  #complete (bytes: Buffer, from: number, end: number): void {
    const index = this.#count++
    const offset = this.#start
    const size = this.#pendingLength + end - from
    if (this.#tooLarge || size > this.#maxElementBytes) {
      this.#release()
      this.#onElement({ index, offset, bytes: EMPTY, problem: this.#tooLargeWhy() })
      return
    }
    if (this.#pendingLength === 0) {
      this.#onElement({ index, offset, bytes: bytes.subarray(from, end) })
      return
    }
    this.#keep(bytes.subarray(0, end))
    const whole = this.#pending.subarray(0, this.#pendingLength)
    this.#pendingLength = 0
    this.#onElement({ index, offset, bytes: whole })
    if (this.#pending.length > KEEP_PENDING) this.#pending = EMPTY
  }

  #tooLargeWhy (): string {
    return `larger than ${this.#maxElementBytes} bytes, the most one element may hold (stepped over, not read)`
  }

  /** Keeps the current element's `bytes` (a copy: the chunk may be reused), unless it outgrew the limit. */
  #keep (bytes: Buffer): void {
    if (this.#tooLarge) return
    const length = this.#pendingLength + bytes.length
    if (length > this.#maxElementBytes) {
      this.#tooLarge = true
      this.#release()
      return
    }
    if (length > this.#pending.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(length, this.#pending.length * 2, 4096), this.#maxElementBytes))
      this.#pending.copy(grown, 0, 0, this.#pendingLength)
      this.#pending = grown
    }
    bytes.copy(this.#pending, this.#pendingLength)
    this.#pendingLength = length
  }

  #release (): void {
    this.#pending = EMPTY
    this.#pendingLength = 0
  }
}
