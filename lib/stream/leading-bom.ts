/**
 * A UTF-8 byte order mark (EF BB BF) at the very start of a text input,
 * dropped. Editors and Windows tools (PowerShell 5's `Out-File -Encoding
 * utf8`, Excel's "CSV UTF-8") write one; RFC 8259 §8.1 lets a JSON parser
 * ignore it. Kept, it made the first line of such an NDJSON file an
 * "invalid JSON at character 0" for ship, a string record with three
 * invisible bytes in front for write and encode, and an unreadable line for
 * meta. Only the stream's first bytes are looked at: a U+FEFF anywhere else
 * is content and stays.
 *
 * The chunks may split the mark anywhere (a first chunk of 1 byte): bytes
 * that may still begin one are held until the next chunk decides, and given
 * back as they were if they do not.
 */
import { Transform, type TransformCallback } from 'node:stream'

const BOM = Buffer.from([0xef, 0xbb, 0xbf])
const EMPTY = Buffer.alloc(0)

export class LeadingBom {
  /** Bytes held while the start is undecided; undefined once decided. */
  #held: Buffer | undefined = EMPTY

  /** Whether the start is known (the mark dropped, or there was none): strip() passes chunks through. */
  get decided (): boolean {
    return this.#held === undefined
  }

  /** `chunk` without the mark, if the stream begins with one; while undecided, EMPTY (its bytes held). */
  strip (chunk: Buffer): Buffer {
    const held = this.#held
    if (held === undefined) return chunk
    const bytes = held.length === 0 ? chunk : Buffer.concat([held, chunk])
    const n = Math.min(bytes.length, BOM.length)
    if (bytes.compare(BOM, 0, n, 0, n) !== 0) {
      this.#held = undefined
      return bytes
    }
    if (bytes.length < BOM.length) {
      // A copy: the producer may reuse its chunk.
      this.#held = Buffer.from(bytes)
      return EMPTY
    }
    this.#held = undefined
    return bytes.subarray(BOM.length)
  }

  /** At the input's end: the bytes held (the start of a mark that never finished), to use as content. */
  end (): Buffer {
    const held = this.#held ?? EMPTY
    this.#held = undefined
    return held
  }
}

/** A bytes stage that drops a byte order mark at the start (LeadingBom), for inputs read through other stages. */
export function stripLeadingBom (): Transform {
  const bom = new LeadingBom()
  return new Transform({
    transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      const bytes = bom.strip(chunk)
      callback(null, bytes.length === 0 ? undefined : bytes)
    },
    flush (callback: TransformCallback) {
      const rest = bom.end()
      callback(null, rest.length === 0 ? undefined : rest)
    }
  })
}
