/**
 * The lines of a streamed answer (a get's body: one event per line, CRLF,
 * LF alone taken too), from Buffer chunks that may split a line, or a UTF-8
 * character, anywhere. Each line goes to `onLine` without its CR/LF; blank
 * lines are skipped. `onLine` returns false to stop: the rest is dropped.
 *
 * Lines are sliced from each chunk's own decoded text, and only a line a
 * chunk boundary split is joined: appending every chunk to the leftover
 * (`tail += text`) made V8 flatten, i.e. copy, every chunk once more.
 */
import { StringDecoder } from 'node:string_decoder'

export class AnswerLines {
  readonly #decoder = new StringDecoder('utf8')
  readonly #onLine: (line: string) => boolean
  /** The start of a line the last chunk did not finish. */
  #tail = ''
  #stopped = false
  /** Lines seen so far (blank ones included): the number of the line being handled. */
  lineNo = 0

  constructor (onLine: (line: string) => boolean) {
    this.#onLine = onLine
  }

  /** Feeds one chunk; false once `onLine` has stopped (now or before). */
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
