/** shoebox ls: the archives a glob matches, with records and sizes. */
import { Readable } from 'node:stream'
import type { WholeObject } from '../store/store.js'
import { listGlob, noArchiveMatches, openGlob } from '../source/list.js'
import { comparator, type ListedFile } from '../source/order.js'
import { READ_AHEAD_BYTES, ReadAhead } from '../source/read-ahead.js'
import { isRemote } from '../store/open-store.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import { storeUrlArg } from './store-url-arg.js'
import { TransferReporter } from './transfer-reporter.js'
import type { Command } from './command.js'
import { checkDirArg, usage } from './io.js'
import { parse } from './options.js'
import { maxFrameSizeFrom, maxRecordSizeFrom, READ_FLAGS, readOptionHelp, readOptionSpec } from './read-options.js'
import { scanArchive, type Scan } from './scan.js'
import { DEFAULT_MAX_FRAME_SIZE } from '../compress/zstd.js'
import { ShoeboxError } from '../errors.js'
import { plural } from '../plural.js'
import { oneLine } from './one-line.js'

const help = `Usage: shoebox ls PATTERN

Lists the archives matching the glob PATTERN in read order, one per line:
name, records, bytes stored, codec (plain, gzip, zstd), archive bytes
(uncompressed), modification time;
then a total with the time range the files were written over.
Damaged files are counted leniently and marked DAMAGED, files that cannot be
read at all (zstd where this install has none) UNREADABLE; either makes the
exit status 1. A pattern that matches nothing is an error. PATTERN may be a store
URL ('s3://bucket/logs/*.shoebox.gz'): each object is read to count its
records, and the transfer statistics go to stderr.

Options:
${readOptionHelp}
${storeOptionHelp}
  -h, --help    show this help`

export const lsCommand: Command = {
  name: 'ls',
  summary: 'list archives with records, bytes and times',
  help,
  flags: { ...READ_FLAGS, ...STORE_FLAGS },
  async run (argv, io) {
    const { values, positionals } = parse(argv, { ...readOptionSpec, ...storeOptionSpec }, true)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (positionals.length !== 1) throw usage('needs exactly one PATTERN (quote globs)')
    checkDirArg(positionals[0], 'PATTERN', "for archives on stdin, 'shoebox decode'")
    const maxRecordSize = maxRecordSizeFrom(values)
    const maxFrameSize = maxFrameSizeFrom(values)
    const { store, ...glob } = openGlob(storeUrlArg(positionals[0], storeOptions), { storeOptions })
    // Statistics are what a user of a remote store wants to see; for a directory they are noise.
    const transfers = isRemote(positionals[0]) ? new TransferReporter(io, 'shoebox ls', () => store.stats()) : null
    let records = 0
    let bytes = 0
    let listed = false
    let damaged = 0
    let ahead: ReadAhead<ListedFile, Readable | Promise<WholeObject | Readable>> | undefined
    try {
      const files = (await listGlob({ store, ...glob })).sort(comparator('name'))
      if (files.length === 0) throw noArchiveMatches(positionals[0], files)
      // A file others may still write is read as it is; an S3 object as the version listed.
      const pin = store.writtenInPlace === true ? () => undefined : (etag?: string) => etag
      // A small file is read whole where the store can (a FileStore: one read), and scanned in one call.
      const open = (file: ListedFile): Readable | Promise<WholeObject | Readable> => store.getWhole !== undefined && file.size <= READ_AHEAD_BYTES
        ? store.getWhole(file.name, { size: file.size, etag: pin(file.etag) })
        : store.get(file.name, { etag: pin(file.etag) })
      // The next few small files are opened while one is scanned (read-ahead.ts): their opens overlap; where the
      // store reads them in batches (a FileStore with the native addon), 32 at a time.
      ahead = new ReadAhead<ListedFile, Readable | Promise<WholeObject | Readable>>(open, store.wholeReadsTogether)
      /** The files after files[index], for the read-ahead to take what it looks at (a slice of each file's window cost a copy a file). */
      function * after (index: number): Generator<ListedFile> {
        for (let i = index + 1; i < files.length; i++) yield files[i]
      }
      for (const [index, file] of files.entries()) {
        let scan: Scan
        try {
          ahead.ahead(after(index))
          const opened = await ReadAhead.settle(ahead.take(file) ?? open(file))
          scan = await scanArchive(opened instanceof Readable ? opened : opened.take(), file.path, maxRecordSize, maxFrameSize)
        } catch (err) {
          // As verify: a file that cannot be read at all (zstd where this install has none, gone since listed)
          // is marked, and the files after it are still listed.
          // A setting at fault (SHOEBOX_ZSTD or SHOEBOX_NATIVE mistyped: SHOEBOX_USAGE) is no fault of the file: the run fails, exit 2.
          if (!(err instanceof ShoeboxError) || err.code === 'SHOEBOX_USAGE') throw err
          damaged++
          bytes += file.size
          io.stdout.write(`${oneLine(file.name)}\tUNREADABLE (${oneLine(err.message)})\n`)
          continue
        }
        const { stats: s, codec } = scan
        // The gzip layer's damage, or the first zstd frame that could not be decompressed (the frames after it counted).
        const bad = scan.compression ?? scan.damage.find((d) => d.reason === 'bad-compression' || d.needsDictionary === true) ?? null
        // A frame refused for its size, or one that needs a dictionary, is not damage in the file: say so, and what
        // reads it (each was 'zstd damaged').
        const compression = bad === null
          ? ''
          : bad.frameTooLarge === true
            ? `zstd frame at compressed byte ${bad.offset} over --max-frame-size (${plural(maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 'byte')}): not read, raise it to read the file`
            : 'needsDictionary' in bad && bad.needsDictionary === true
              ? `zstd frame at compressed byte ${bad.offset} needs a zstd dictionary: not read (zstd -d -D DICTIONARY reads it)`
              : `${codec} damaged at compressed byte ${bad.offset}`
        records += s.records
        bytes += file.size
        const damage = [s.corrupt > 0 ? `${plural(s.bytesSkipped, 'byte')} unreadable` : '', compression].filter((d) => d !== '').join(', ')
        if (damage !== '') damaged++
        const mark = damage === '' ? '' : `  DAMAGED (${damage})`
        io.stdout.write(`${oneLine(file.name)}\t${plural(s.records, 'record')}\t${plural(file.size, 'byte')}\t${codec === 'none' ? 'plain' : codec}\t${plural(s.bytes, 'archive byte')}\t${new Date(file.mtimeMs).toISOString()}${mark}\n`)
      }
      // A loop: Math.min(...times) passes every time as an argument, past the stack at ~120,000 files.
      let first = Infinity
      let last = -Infinity
      for (const f of files) {
        if (f.mtimeMs < first) first = f.mtimeMs
        if (f.mtimeMs > last) last = f.mtimeMs
      }
      const range = files.length === 0 ? '' : `, ${new Date(first).toISOString()} .. ${new Date(last).toISOString()}`
      io.stdout.write(`${plural(files.length, 'file')}, ${plural(records, 'record')}, ${plural(bytes, 'byte')}${range}\n`)
      listed = true
    } finally {
      ahead?.clear()
      transfers?.stop(listed)
      await store.close()
    }
    return damaged > 0 ? 1 : 0
  }
}
