/** Read one archive to its end, counting records and collecting damage (verify and ls). */
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { codecs, sniffCodec, SNIFF_BYTES, type CodecName } from '../compress/codecs.js'
import { zstdFrames } from '../compress/zstd-decompress.js'
import { peekHead } from '../compress/peek.js'
import { CorruptArchiveError } from '../errors.js'
import { decode, WholeDecoder, type DecodedCorruptInfo } from '../format/decode.js'
import type { DecoderStats } from '../format/decoder.js'

export interface Scan {
  stats: Readonly<DecoderStats>
  /**
   * Damaged stretches of the archive bytes (in a zstd file each names its frame), and in a zstd file the frames
   * that could not be decompressed (reason 'bad-compression', offset and bytesSkipped in compressed bytes), in order.
   */
  damage: DecodedCorruptInfo[]
  /** The gzip layer was damaged or cut short: records after it could not be read. (A zstd file goes on at its next frame.) */
  compression: CorruptArchiveError | null
  /** What the file is compressed with, by its magic bytes ('none': plain). */
  codec: CodecName
}

/** Scan `input`: a stream, or a file's bytes read whole (a plain one is then decoded in one call, no stream). */
export async function scanArchive (input: Readable | Buffer, file: string, maxRecordSize?: number, maxFrameSize?: number): Promise<Scan> {
  if (Buffer.isBuffer(input)) {
    if (sniffCodec(input).name === 'none') return scanWhole(input, file, maxRecordSize)
    input = Readable.from([input], { objectMode: false })
  }
  // The file's first bytes say its codec; only that codec's stage is built (none for a plain file). All three
  // stages, each passing the others' bytes through, and a stage to sniff, cost every file of an ls of thousands
  // of small ones five streams and their hops.
  const { head, stream } = await peekHead(input, SNIFF_BYTES)
  const codec = sniffCodec(head).name
  // zstd is read leniently, as `read --lenient` reads it: a frame that cannot be decompressed is skipped and reported,
  // and the frames after it counted. Strict, it stopped the scan there, and ls and verify said every record after
  // it was lost (a seventh of what `read --lenient` gave, of a file with one bad frame of 25).
  const stages = codec === 'none' ? [] : [(await codecs[codec].decompressor())({ file, maxFrameSize, ...(codec === 'zstd' ? { mode: 'lenient' as const } : {}) })]
  // Damage in a zstd file names its frame, for a report by frame (damage-lines.ts).
  const decoder = decode({ mode: 'lenient', file, maxRecordSize, frames: zstdFrames(stages) })
  const damage: DecodedCorruptInfo[] = []
  decoder.on('corrupt', (info: DecodedCorruptInfo) => { damage.push(info) })
  for (const stage of stages) stage.on('corrupt', (info: DecodedCorruptInfo) => { damage.push(info) })
  let compression: CorruptArchiveError | null = null
  try {
    await pipeline([stream, ...stages, decoder, new Writable({ objectMode: true, write: (_r, _e, cb) => { cb() } })])
  } catch (err) {
    if (!(err instanceof CorruptArchiveError && err.reason === 'bad-compression')) throw err
    compression = err.inFile(file)
  }
  return { stats: decoder.stats, damage, compression, codec }
}

/**
 * A plain file's bytes, whole, scanned by the same decoder in one call
 * (WholeDecoder): what the stream gives, without a DecodeStream, a pipeline
 * and a sink for each of thousands of small files. Lenient: damage is
 * collected, never thrown.
 */
function scanWhole (bytes: Buffer, file: string, maxRecordSize?: number): Scan {
  const damage: DecodedCorruptInfo[] = []
  const decoder = new WholeDecoder({ mode: 'lenient', file, maxRecordSize }, { record: () => {}, corrupt: (info) => { damage.push(info) } })
  decoder.decode(bytes)
  return { stats: decoder.stats, damage, compression: null, codec: 'none' }
}
