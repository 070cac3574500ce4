/**
 * A pack: the run files a collector's publish uploads, one after the other
 * in one object (run-publisher.ts). Uploaded one object per run, a flush of
 * 500 one-event streams cost a publish ~1,000 requests (a PUT and the
 * uploader's HEAD each); packed, it costs two, whatever the number of
 * streams. A pack is the runs' bytes as they are, so a reader fetches a
 * packed run's blocks with ranged GETs of the pack at the run's offset plus
 * the block's (remote-runs.ts; the offset is in the published index,
 * published-index.ts).
 *
 * A pack is named by its content (the first 128 bits of its SHA-256, in
 * hex): a publish retried after a crash that packs the same runs writes the
 * same bytes under the same key, and no key ever holds two contents. It is
 * made in the runs directory, for the sealed-file uploader that ships files
 * by name: written under a hidden temporary name, then renamed. Not fsynced:
 * it is removed once uploaded, and after a crash the event store removes it
 * at open (it is in no index) and the next publish makes it again.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../../errors.js'
import { nodeCrypto, tempBeside, writeAll } from '../../fs/durable.js'
import { orIoError } from '../../fs/io-error.js'
import type { RunInfo } from './run-file.js'

export const PACK_SUFFIX = '.pack'

/** A pack's name: what packName() makes, and all the published index may name. */
export const PACK_NAME = /^[0-9a-f]{32}\.pack$/

/**
 * A run file larger than this is uploaded alone, as its own object: packing
 * it saves one request of many, and a reader's ranged GETs are the same.
 */
export const PACK_ALONE_BYTES = 4 * 1024 * 1024

/**
 * A pack holds at most this many bytes (more runs make more packs): a pack
 * that fails is uploaded again whole, and the uploader's multipart parts
 * (8 MiB) keep its memory small whatever the size.
 */
export const PACK_MAX_BYTES = 64 * 1024 * 1024

/** A run in a pack, and the byte of the pack where it begins. */
export interface PackedRun {
  run: RunInfo
  offset: number
}

/** A pack file made by writePack(), ready for the uploader. */
export interface PackFile {
  /** `<hash>.pack` */
  name: string
  path: string
  runs: PackedRun[]
}

/**
 * The runs (each of at most PACK_ALONE_BYTES), in file-name order, as groups
 * of at most `maxBytes` each: the same runs always make the same packs.
 */
export function planPacks (runs: readonly RunInfo[], maxBytes = PACK_MAX_BYTES): RunInfo[][] {
  const packs: RunInfo[][] = []
  let bytes = 0
  for (const run of [...runs].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    const last = packs[packs.length - 1]
    if (last === undefined || bytes + run.bytes > maxBytes) {
      packs.push([run])
      bytes = run.bytes
    } else {
      last.push(run)
      bytes += run.bytes
    }
  }
  return packs
}

/**
 * Write the run files of `runs` (in `dir`) one after the other into a pack
 * file in `dir`, named by its content. Throws SHOEBOX_IO naming the file
 * that could not be read or written, or SHOEBOX_BAD_RECORD if a run file is
 * not as long as its index entry says (the pack's offsets would be wrong);
 * either way no pack file is left behind.
 */
export async function writePack (dir: string, runs: readonly RunInfo[]): Promise<PackFile> {
  const temp = tempBeside(path.join(dir, PACK_SUFFIX))
  const hash = nodeCrypto().createHash('sha256')
  const packed: PackedRun[] = []
  const handle = await orIoError(fsp.open(temp, 'wx'), 'cannot create pack file', temp)
  let done = false
  try {
    let offset = 0
    for (const run of runs) {
      const file = path.join(dir, run.file)
      const bytes = await orIoError(fsp.readFile(file), 'cannot read run file', file)
      if (bytes.length !== run.bytes) throw new ShoeboxError('SHOEBOX_BAD_RECORD', `run file ${file} has ${bytes.length} bytes, its index entry says ${run.bytes}; it is not packed`)
      await orIoError(writeAll(handle, bytes), 'cannot write pack file', temp)
      hash.update(bytes)
      packed.push({ run, offset })
      offset += bytes.length
    }
    await handle.close()
    const name = hash.digest('hex').slice(0, 32) + PACK_SUFFIX
    await orIoError(fsp.rename(temp, path.join(dir, name)), 'cannot rename pack file', temp)
    done = true
    return { name, path: path.join(dir, name), runs: packed }
  } finally {
    if (!done) {
      await handle.close().catch(() => {})
      await fsp.rm(temp, { force: true })
    }
  }
}
