/**
 * Proof that an uploaded object holds the bytes written to the sink. The
 * bytes are cut into parts exactly where the writer cuts them (every
 * partSize bytes, s3-writer.ts) and each part is summed as it passes:
 *
 * - 'checksum' (default): a CRC32 per part, compared with the CRC32 the SDK
 *   sent with that part (the SDK's, over the body it sent, which the
 *   server checks against what it received: S3 and MinIO refuse a part that
 *   does not match) and with the one the server reports storing, when it
 *   reports one. Hardware CRC32 costs next to nothing.
 * - 'etag': an MD5 per part, compared with the ETag the server returns (MD5
 *   of the object, or of the part MD5s and '-N'). End to end even on servers
 *   that ignore checksums, at about 2.5 ns a byte; useless where ETags are
 *   not MD5s (SSE-KMS), so such ETags are not compared.
 */
import { createHash, type Hash } from 'node:crypto'
import { crc32Continue } from '../checksum.js'
import type { PartChecksum } from './s3-context.js'

export type VerifyMode = 'checksum' | 'etag'

function base64Crc (crc: number): string {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(crc >>> 0)
  return b.toString('base64')
}

export class PartCheck {
  readonly mode: VerifyMode
  readonly #partSize: number
  #fill = 0
  #crc = 0
  #hash: Hash | undefined
  /** Per finished part: its CRC32 (base64), or its MD5. */
  #crcs: string[] = []
  #md5s: Buffer[] = []
  /** What the SDK and the server said of each part, by part number. */
  #reported = new Map<number, PartChecksum>()

  constructor (partSize: number, mode: VerifyMode) {
    this.#partSize = partSize
    this.mode = mode
    if (mode === 'etag') this.#hash = createHash('md5')
  }

  update (chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      const take = Math.min(chunk.length - at, this.#partSize - this.#fill)
      const piece = take === chunk.length ? chunk : chunk.subarray(at, at + take)
      if (this.#hash !== undefined) this.#hash.update(piece)
      else this.#crc = crc32Continue(this.#crc, piece)
      this.#fill += take
      at += take
      if (this.#fill === this.#partSize) this.#cut()
    }
  }

  record (part: PartChecksum): void {
    this.#reported.set(part.partNumber, part)
  }

  /** After the last byte: why the stored object is not what was written, or undefined if it is. */
  mismatch (etag: string): string | undefined {
    if (this.#fill > 0 || this.#crcs.length + this.#md5s.length === 0) this.#cut()
    return this.mode === 'etag' ? this.#etagMismatch(etag) : this.#checksumMismatch()
  }

  #cut (): void {
    if (this.#hash !== undefined) {
      this.#md5s.push(this.#hash.digest())
      this.#hash = createHash('md5')
    } else {
      this.#crcs.push(base64Crc(this.#crc))
      this.#crc = 0
    }
    this.#fill = 0
  }

  #checksumMismatch (): string | undefined {
    const reported = [...this.#reported.values()]
    // Every PutObject and UploadPart that succeeds is reported: none seen proves nothing, so it fails.
    if (reported.length === 0) return 'no part of the upload was seen being stored'
    // A client set to send no checksums leaves nothing to compare.
    if (reported.every((p) => p.sent === undefined && p.stored === undefined)) return undefined
    if (reported.length !== this.#crcs.length) return `${reported.length} parts stored for the ${this.#crcs.length} written`
    for (let i = 0; i < this.#crcs.length; i++) {
      const mine = this.#crcs[i]
      const part = this.#reported.get(i + 1)
      if (part === undefined) return `part ${i + 1} was never stored`
      if (part.sent !== undefined && part.sent !== mine) return `part ${i + 1}: CRC32 ${part.sent} was sent for bytes written with CRC32 ${mine}`
      if (part.stored !== undefined && part.stored !== mine) return `part ${i + 1}: the server stored CRC32 ${part.stored}, the bytes written have ${mine}`
    }
    return undefined
  }

  #etagMismatch (etag: string): string | undefined {
    if (!/^"[0-9a-f]{32}(-\d+)?"$/.test(etag)) return undefined
    const expected = this.#md5s.length === 1
      ? `"${this.#md5s[0].toString('hex')}"`
      : `"${createHash('md5').update(Buffer.concat(this.#md5s)).digest('hex')}-${this.#md5s.length}"`
    return etag === expected ? undefined : `the stored object's ETag ${etag} does not match the ${expected} of the bytes written`
  }
}
