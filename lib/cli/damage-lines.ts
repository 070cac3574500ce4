/**
 * The damage lines a CLI prints for one file (verify, read --lenient,
 * decode --lenient). The stretches found in one zstd frame are one line,
 * naming the frame: a flipped byte in a compressed block usually still
 * decompresses (a frame carries a content checksum only when node:zlib's zstd
 * wrote it, not @mongodb-js/zstd), to garbage from there to
 * the frame's end, among which the records that prove themselves by their
 * checksums are read, so one damaged frame shows as hundreds of stretches;
 * the frame is the one damaged place a user can act on. Other damage (plain
 * files, gzip, a zstd frame skipped whole) keeps a line each, up to a cap per
 * file; one summary line then counts what was left out, so that no file
 * prints thousands of lines.
 */
import type { DecodedCorruptInfo } from '../format/decode.js'
import type { MemberSpan } from '../record.js'
import { plural } from '../plural.js'
import { inFlags } from './options.js'
import { READ_FLAGS } from './read-options.js'

/** Damage lines per file before the rest is counted in one summary line. */
export const DAMAGE_LINES_PER_FILE = 20

/** The stretches of one zstd frame, gathered until a stretch elsewhere (or the file's end) closes them. */
interface FrameDamage<T> {
  frame: MemberSpan
  /** The first stretch: its reason, and what the line is written with (its file). */
  first: T
  stretches: number
  bytes: number
  /** Decompressed offsets: the first stretch's start and the last one's end. */
  from: number
  to: number
  /** Damage outside any frame reported while this frame was open, to list after it. */
  after: T[]
}

export class DamageLines<T extends DecodedCorruptInfo> {
  readonly #write: (text: string, info: T) => void
  readonly #line: (info: T) => string
  readonly #limit: number
  #open: FrameDamage<T> | null = null
  #lines = 0
  /** Past the cap: what was not listed, and the info to write the summary with. */
  #unlisted: { lines: number, stretches: number, last: T } | null = null

  /**
   * `write(text, info)` prints one line (with the CLI's prefix, naming
   * info's file); `line(info)` is the text of a stretch outside any zstd frame.
   */
  constructor (write: (text: string, info: T) => void, line: (info: T) => string, limit = DAMAGE_LINES_PER_FILE) {
    // A limit named in a reason is the reading commands' flag (--max-record-size), not the API option.
    this.#write = (text, info) => { write(inFlags(text, READ_FLAGS), info) }
    this.#line = line
    this.#limit = limit
  }

  /** One damaged stretch (decode()'s or archiveSource()'s `corrupt`), in the order reported. */
  add (info: T): void {
    const open = this.#open
    const frame = info.frame
    if (open !== null && frame !== undefined && frame.offset === open.frame.offset) {
      open.stretches++
      open.bytes += info.bytesSkipped
      open.to = info.offset + info.bytesSkipped
      return
    }
    if (frame === undefined) {
      // A frame the zstd stage skipped whole comes after the open frame in the file, but may be reported
      // before the open frame's last stretch (the stage runs ahead of the decoder): it waits for that line.
      if (open !== null) open.after.push(info)
      else this.#emit(this.#line(info), info, 1)
      return
    }
    this.#close()
    this.#open = { frame, first: info, stretches: 1, bytes: info.bytesSkipped, from: info.offset, to: info.offset + info.bytesSkipped, after: [] }
  }

  /** The file is done: its open frame's line, and the summary of lines not listed. Ready for the next file. */
  end (): void {
    this.#close()
    const unlisted = this.#unlisted
    if (unlisted !== null) {
      this.#write(`${plural(unlisted.lines, 'more damage line')} not listed (${plural(unlisted.stretches, 'damaged stretch', 'damaged stretches')}; at most ${this.#limit} are listed per file)`, unlisted.last)
    }
    this.#lines = 0
    this.#unlisted = null
  }

  #close (): void {
    const open = this.#open
    if (open === null) return
    this.#open = null
    this.#emit(frameLine(open), open.first, open.stretches)
    for (const info of open.after) this.#emit(this.#line(info), info, 1)
  }

  #emit (text: string, info: T, stretches: number): void {
    if (this.#lines < this.#limit) {
      this.#lines++
      this.#write(text, info)
      return
    }
    const unlisted = this.#unlisted ??= { lines: 0, stretches: 0, last: info }
    unlisted.lines++
    unlisted.stretches += stretches
    unlisted.last = info
  }
}

/** One zstd frame's damage: where the frame is, the decompressed range its stretches cover, how many and how much. */
function frameLine (d: FrameDamage<DecodedCorruptInfo>): string {
  const { frame, first } = d
  const length = frame.length === undefined ? '' : ` (${plural(frame.length, 'compressed byte')})`
  return `damaged zstd frame at compressed byte ${frame.offset}${length}: ` +
    `${plural(d.stretches, 'damaged stretch', 'damaged stretches')} between byte ${d.from} and byte ${d.to}, ` +
    `${plural(d.bytes, 'byte')} skipped (first: ${first.reason}: ${first.detail})`
}

/**
 * A lenient reader's line for one stretch (read, decode): damaged gzip or
 * zstd is skipped, and placed, in compressed bytes; so is a zstd frame that
 * needs a dictionary, which is said as such: its bytes are not damaged.
 */
export function skippedLine (info: DecodedCorruptInfo): string {
  if (info.needsDictionary === true) {
    return `skipped a zstd frame that needs a dictionary: ${plural(info.bytesSkipped, 'compressed byte')} at compressed byte ${info.offset} (${info.reason}: ${info.detail})`
  }
  const where = info.reason === 'bad-compression'
    ? `${plural(info.bytesSkipped, 'damaged compressed byte')} at compressed byte`
    : `${plural(info.bytesSkipped, 'damaged byte')} at byte`
  return `skipped ${where} ${info.offset} (${info.reason}: ${info.detail})`
}
