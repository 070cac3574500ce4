/**
 * The lines of a streamed answer (a get's body: one event per line, CRLF,
 * LF alone taken too), from Buffer chunks that may split a line, or a UTF-8
 * character, anywhere. Each line goes to `onLine` without its CR/LF; blank
 * lines are skipped. `onLine` returns false to stop: the rest is dropped.
 *
 * Lines are sliced from each chunk's own decoded text, and only a line a
 * chunk boundary split is joined: appending every chunk to the leftover
 * (`tail += text`) made V8 flatten, i.e. copy, every chunk once more.
 *
 * A line is bounded (`maxLine`, characters): a server that sends a line
 * without end (no LF for hundreds of MB) made the leftover grow until V8
 * threw 'Invalid string length' out of the socket's data handler, which
 * killed the process. The leftover's length is checked only after a chunk
 * left one, never per line: the get's hot path pays nothing per event. So
 * a line is refused once its unfinished part is over the cap; one finished
 * within a chunk of it may be up to a chunk longer.
 *
 * Bytes that are not UTF-8 stop it too, at the line that holds them, after
 * the lines before it: the decoder would have turned them into U+FFFD and
 * the event into one never stored. An ASCII chunk is told apart by its
 * decoded length for free; any other costs one isUtf8 (Utf8Chunks).
 */
import { StringDecoder } from 'node:string_decoder'
import { BEFORE_CHUNK, Utf8Chunks } from './utf8-chunks.js'

export type AnswerLinesStop = 'line too long' | 'not UTF-8'

/**
 * The longest get answer line taken, in characters: 64 Mi, as the client's
 * cap on a whole JSON answer (client-request.ts), and 4x the largest put
 * body `shoebox serve` takes by default (16 MiB), so no event a server
 * could have stored is refused; the leftover then holds at most ~64-128 MB.
 */
export const MAX_ANSWER_LINE = 64 * 1024 * 1024

export class AnswerLines {
  readonly #decoder = new StringDecoder('utf8')
  readonly #onLine: (line: string) => boolean
  /** The start of a line the last chunk did not finish. */
  #tail = ''
  #stopped = false
  readonly #maxLine: number
  /** Lines seen so far (blank ones included): the number of the line being handled. */
  lineNo = 0
  readonly #utf8 = new Utf8Chunks()
  /** Why it stopped at line lineNo + 1 (write() returned false, or end() took no last line); undefined when it did not. */
  failure: AnswerLinesStop | undefined

  constructor (onLine: (line: string) => boolean, maxLine = MAX_ANSWER_LINE) {
    this.#onLine = onLine
    this.#maxLine = maxLine
  }

  get maxLine (): number {
    return this.#maxLine
  }

  /** Feeds one chunk; false once `onLine` has stopped, or a line failed (see failure), now or before. */
  write (chunk: Buffer): boolean {
    if (this.#stopped) return false
    const carried = this.#utf8.carried
    const text = this.#decoder.write(chunk)
    // An ASCII chunk decodes to one character a byte, none of them U+FFFD (which V8 answers at
    // once for a one-byte string): no isUtf8 for it. Bad bytes decode to U+FFFD, other
    // characters to fewer characters than bytes: either way the chunk is checked.
    if (carried.length !== 0 || text.length !== chunk.length || text.indexOf('\uFFFD') !== -1) {
      const bad = this.#utf8.check(chunk)
      if (bad !== -1) {
        // The whole lines before the bad one are taken (valid bytes, ending in LF); then it stops.
        const lineStart = bad === BEFORE_CHUNK ? 0 : chunk.lastIndexOf(0x0A, bad) + 1
        if (lineStart > 0 && !this.#lines(Buffer.concat([carried, chunk.subarray(0, lineStart)]).toString('utf8'))) return false
        this.#fail('not UTF-8')
        return false
      }
    }
    return this.#lines(text)
  }

  /** The lines of the decoded text of a chunk. */
  #lines (text: string): boolean {
    let nl = text.indexOf('\n')
    let from = 0
    let more = true
    if (nl !== -1 && this.#tail !== '') {
      const first = this.#tail + text.slice(0, nl)
      this.#tail = ''
      more = this.#take(first, 0, first.length)
      from = nl + 1
      nl = text.indexOf('\n', from)
    }
    for (; more && nl !== -1; nl = text.indexOf('\n', from)) {
      more = this.#take(text, from, nl)
      from = nl + 1
    }
    if (!more) return false
    this.#tail += from === 0 ? text : text.slice(from)
    if (this.#tail.length > this.#maxLine) {
      this.#fail('line too long')
      return false
    }
    return true
  }

  #fail (why: AnswerLinesStop): void {
    this.#tail = ''
    this.failure = why
    this.#stopped = true
  }

  /** A clean end: a last line without CRLF is still a line, unless it ends inside a character. */
  end (): void {
    if (!this.#stopped && this.#utf8.unfinished()) this.#fail('not UTF-8')
    const rest = this.#tail + this.#decoder.end()
    this.#tail = ''
    if (!this.#stopped && rest !== '') this.#take(rest, 0, rest.length)
  }

  /** The line text[from, to) (its LF excluded); a CR before the LF is dropped, blank lines skipped. */
  #take (text: string, from: number, to: number): boolean {
    this.lineNo++
    const end = to > from && text.charCodeAt(to - 1) === 0x0D ? to - 1 : to
    // One slice per line; an event line starts with '{', only others need the blank-line test.
    const line = text.slice(from, end)
    if (text.charCodeAt(from) !== 0x7B && line.trim() === '') return true
    if (this.#onLine(line)) return true
    this.#stopped = true
    return false
  }
}
