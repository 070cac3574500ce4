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
 */
import { StringDecoder } from 'node:string_decoder'

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
  /** Stopped at line lineNo + 1, longer than maxLine (write() returned false). */
  tooLong = false

  constructor (onLine: (line: string) => boolean, maxLine = MAX_ANSWER_LINE) {
    this.#onLine = onLine
    this.#maxLine = maxLine
  }

  get maxLine (): number {
    return this.#maxLine
  }

  /** Feeds one chunk; false once `onLine` has stopped, or a line is over maxLine (now or before). */
  write (chunk: Buffer): boolean {
    if (this.#stopped) return false
    const text = this.#decoder.write(chunk)
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
      this.#tail = ''
      this.tooLong = true
      this.#stopped = true
      return false
    }
    return true
  }

  /** A clean end: a last line without CRLF is still a line. */
  end (): void {
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
