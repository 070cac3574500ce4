/**
 * The CSV dialect of mmmeta's db/ files: Python's csv module with its
 * default `excel` dialect. `,` between cells, `"` around a cell only when it
 * holds `,`, `"`, `\r` or `\n`, a `"` inside doubled, rows ending `\r\n`.
 * Reading accepts `\r\n`, `\n` or `\r` row ends, newlines inside quotes, and a
 * last row without an end, as Python's reader does (strict=False: a stray `"`
 * inside an unquoted cell is a character).
 *
 * One addition mmmeta cannot see: a cell is `null` when it is empty and
 * unquoted, and `""` when the writer quoted it (`""`). Python reads both as
 * '' (which mmmeta turns into None), so the files stay mmmeta's, while
 * shoebox keeps an empty string apart from a missing value.
 *
 * CsvParser is the pure codec (text in, rows out, "need more" as a normal
 * state); csvRows() is the Transform around it.
 */
import { StringDecoder } from 'node:string_decoder'
import { Transform, type TransformCallback } from 'node:stream'
import { ShoeboxError } from '../errors.js'

export type CsvCell = string | null

export interface CsvRow {
  cells: CsvCell[]
  /** 1-based line of the file where the row starts. */
  line: number
}

const QUOTE = 34 // "
const COMMA = 44
const CR = 13
const LF = 10

const NEEDS_QUOTES = /[",\r\n]/
const QUOTES = /"/g

/** One cell as Python's QUOTE_MINIMAL writes it (null: empty; '' quoted, see above). */
export function formatCsvCell (cell: CsvCell): string {
  if (cell === null) return ''
  if (cell === '') return '""'
  if (NEEDS_QUOTES.test(cell)) return '"' + cell.replace(QUOTES, '""') + '"'
  return cell
}

/** One row, ending `\r\n`. A row of one empty cell is written `""`, as Python does, so it is not a blank line. */
export function formatCsvRow (cells: readonly CsvCell[]): string {
  if (cells.length === 1 && cells[0] === null) return '""\r\n'
  let out = ''
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) out += ','
    out += formatCsvCell(cells[i])
  }
  return out + '\r\n'
}

interface Parsed {
  cells: CsvCell[]
  next: number
  lines: number
}

/**
 * Text in, rows out. Blank lines give no row (Python gives [] and DictReader
 * skips it). `source` names the file in errors.
 */
export class CsvParser {
  #text = ''
  #line = 1
  #first = true
  readonly #source: string

  constructor (source = 'CSV') {
    this.#source = source
  }

  /** Add text; returns the rows it completed. */
  push (text: string): CsvRow[] {
    if (this.#first && text.length > 0) {
      this.#first = false
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    this.#text = this.#text.length === 0 ? text : this.#text + text
    return this.#drain(false)
  }

  /** The input is complete: the last row (if it had no line end), or an error if it stops inside quotes. */
  end (): CsvRow[] {
    const rows = this.#drain(true)
    this.#text = ''
    return rows
  }

  /**
   * Where the next `,`, `\r` and `\n` at or after the read position are in
   * the text being drained (its length when there is none): found with
   * indexOf, each searched again only once the position has passed it, so a
   * drain scans the text once per character kind however short the cells.
   */
  #comma = -1
  #cr = -1
  #lf = -1

  #drain (final: boolean): CsvRow[] {
    const rows: CsvRow[] = []
    const text = this.#text
    let pos = 0
    this.#comma = this.#cr = this.#lf = -1
    while (pos < text.length) {
      const c = text.charCodeAt(pos)
      if (c === CR || c === LF) {
        // a blank line (or the \n of a \r\n whose \r ended the previous chunk's row)
        if (c === CR && pos + 1 >= text.length && !final) break
        pos += c === CR && text.charCodeAt(pos + 1) === LF ? 2 : 1
        this.#line++
        continue
      }
      const parsed = this.#parseRow(text, pos, final)
      if (parsed === null) break
      rows.push({ cells: parsed.cells, line: this.#line })
      this.#line += parsed.lines
      pos = parsed.next
    }
    this.#text = pos === 0 ? text : text.slice(pos)
    return rows
  }

  /** One row starting at `pos`, or null when its end is not in `text` yet. */
  #parseRow (text: string, pos: number, final: boolean): Parsed | null {
    const cells: CsvCell[] = []
    let lines = 0
    const n = text.length
    for (;;) {
      if (pos < n && text.charCodeAt(pos) === QUOTE) {
        // quoted cell: up to a lone quote; "" is a quote
        let value = ''
        let from = pos + 1
        for (;;) {
          const q = text.indexOf('"', from)
          if (q < 0) {
            if (!final) return null
            throw new ShoeboxError('SHOEBOX_META_HISTORY', `${this.#source}: line ${this.#line + lines}: the file ends inside a quoted cell`)
          }
          value += text.slice(from, q)
          if (q + 1 < n && text.charCodeAt(q + 1) === QUOTE) {
            value += '"'
            from = q + 2
            continue
          }
          if (q + 1 >= n && !final) return null
          pos = q + 1
          break
        }
        lines += countLineEnds(value)
        // strict=False: text after the closing quote joins the cell, up to , or a line end
        let tail = pos
        while (tail < n) {
          const c = text.charCodeAt(tail)
          if (c === COMMA || c === CR || c === LF) break
          tail++
        }
        if (tail > pos) {
          value += text.slice(pos, tail)
          pos = tail
        }
        cells.push(value)
      } else {
        const end = this.#cellEnd(text, pos)
        if (end >= n && !final) return null
        cells.push(end === pos ? null : text.slice(pos, end))
        pos = end
      }
      if (pos >= n) {
        if (!final) return null
        return { cells, next: pos, lines }
      }
      const c = text.charCodeAt(pos)
      if (c === COMMA) {
        pos++
        continue
      }
      // a line end: \r\n, \n or \r (a \r at the end of the text may be half of a \r\n)
      if (c === CR) {
        if (pos + 1 >= n && !final) return null
        pos += text.charCodeAt(pos + 1) === LF ? 2 : 1
      } else {
        pos++
      }
      return { cells, next: pos, lines: lines + 1 }
    }
  }

  /** The end of an unquoted cell starting at `pos`: the first `,`, `\r` or `\n` from there, or the text's end. */
  #cellEnd (text: string, pos: number): number {
    if (this.#comma < pos) this.#comma = found(text.indexOf(',', pos), text.length)
    if (this.#cr < pos) this.#cr = found(text.indexOf('\r', pos), text.length)
    if (this.#lf < pos) this.#lf = found(text.indexOf('\n', pos), text.length)
    return Math.min(this.#comma, this.#cr, this.#lf)
  }
}

function found (at: number, none: number): number {
  return at < 0 ? none : at
}

/** Line ends inside a quoted cell (\r\n counts once), so row line numbers stay true. */
function countLineEnds (value: string): number {
  let count = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === LF) count++
    else if (c === CR) {
      count++
      if (value.charCodeAt(i + 1) === LF) i++
    }
  }
  return count
}

/** A Transform of UTF-8 bytes (or strings) into CsvRow objects. */
export function csvRows (source = 'CSV'): Transform {
  const parser = new CsvParser(source)
  const decoder = new StringDecoder('utf8')
  return new Transform({
    readableObjectMode: true,
    transform (chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback) {
      try {
        for (const row of parser.push(typeof chunk === 'string' ? chunk : decoder.write(chunk))) this.push(row)
        callback()
      } catch (err) {
        callback(err as Error)
      }
    },
    flush (callback: TransformCallback) {
      try {
        const rest = decoder.end()
        if (rest.length > 0) for (const row of parser.push(rest)) this.push(row)
        for (const row of parser.end()) this.push(row)
        callback()
      } catch (err) {
        callback(err as Error)
      }
    }
  })
}
