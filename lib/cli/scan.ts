/** Read one archive to its end, counting records and collecting damage (verify and ls). */
import type { Readable } from 'node:stream'
import { Transform, Writable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { decompressStages, sniffCodec, SNIFF_BYTES, zstdFrames, type CodecName } from '../compress/codecs.js'
import { CorruptArchiveError } from '../errors.js'
import { decode, type DecodedCorruptInfo } from '../format/decode.js'
import type { DecoderStats } from '../format/decoder.js'

export interface Scan {
  stats: Readonly<DecoderStats>
  /** Damaged stretches of the archive bytes (in a zstd file each names its frame). */
  damage: DecodedCorruptInfo[]
  /** The compression layer (gzip or zstd) was damaged or cut short: records after it could not be read. */
  compression: CorruptArchiveError | null
  /** What the file is compressed with, by its magic bytes ('none': plain). */
  codec: CodecName
}

export async function scanArchive (input: Readable, file: string, maxRecordSize?: number, maxFrameSize?: number): Promise<Scan> {
  const stages = decompressStages({ file, maxFrameSize })
  // Damage in a zstd file names its frame, for a report by frame (damage-lines.ts).
  const decoder = decode({ mode: 'lenient', file, maxRecordSize, frames: zstdFrames(stages) })
  const damage: DecodedCorruptInfo[] = []
  decoder.on('corrupt', (info: DecodedCorruptInfo) => { damage.push(info) })
  let compression: CorruptArchiveError | null = null
  const sniff = new Sniff()
  try {
    await pipeline(input, sniff, ...stages, decoder, new Writable({ objectMode: true, write: (_r, _e, cb) => { cb() } }))
  } catch (err) {
    if (!(err instanceof CorruptArchiveError && err.reason === 'bad-compression')) throw err
    compression = err.inFile(file)
  }
  return { stats: decoder.stats, damage, compression, codec: sniff.codec }
}

/** Passes bytes through, noting the codec their first bytes say. */
class Sniff extends Transform {
  #head: Buffer | null = Buffer.alloc(0)
  codec: CodecName = 'none'

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#head !== null) {
      this.#head = Buffer.concat([this.#head, chunk.subarray(0, SNIFF_BYTES)])
      this.codec = sniffCodec(this.#head).name
      if (this.#head.length >= SNIFF_BYTES) this.#head = null
    }
    callback(null, chunk)
  }
}
