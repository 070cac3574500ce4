/** Read one archive to its end, counting records and collecting damage (verify and ls). */
import type { Readable } from 'node:stream'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { gunzip } from '../compress/gzip.js'
import { CorruptArchiveError } from '../errors.js'
import { decode, type DecodedCorruptInfo } from '../format/decode.js'
import type { DecoderStats } from '../format/decoder.js'

export interface Scan {
  stats: Readonly<DecoderStats>
  /** Damaged stretches of the archive bytes. */
  damage: DecodedCorruptInfo[]
  /** The gzip layer was damaged or cut short: records after it could not be read. */
  compression: CorruptArchiveError | null
}

export async function scanArchive (input: Readable, file: string, maxRecordSize?: number): Promise<Scan> {
  const decoder = decode({ mode: 'lenient', file, maxRecordSize })
  const damage: DecodedCorruptInfo[] = []
  decoder.on('corrupt', (info: DecodedCorruptInfo) => { damage.push(info) })
  let compression: CorruptArchiveError | null = null
  try {
    await pipeline(input, gunzip(), decoder, new Writable({ objectMode: true, write: (_r, _e, cb) => { cb() } }))
  } catch (err) {
    if (!(err instanceof CorruptArchiveError && err.reason === 'bad-compression')) throw err
    compression = err.inFile(file)
  }
  return { stats: decoder.stats, damage, compression }
}
