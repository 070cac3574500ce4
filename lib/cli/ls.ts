/** shoebox ls: the archives a glob matches, with records and sizes. */
import fs from 'node:fs'
import { listFiles, splitGlob } from '../source/list.js'
import { comparator } from '../source/order.js'
import type { Command } from './command.js'
import { usage } from './io.js'
import { parse } from './options.js'
import { scanArchive } from './scan.js'

const help = `Usage: shoebox ls PATTERN

Lists the archives matching the glob PATTERN in read order, one per line:
name, records, bytes on disk, archive bytes (uncompressed), modification time;
then a total with the time range the files were written over.
Damaged files are counted leniently and marked.

Options:
  -h, --help    show this help`

export const lsCommand: Command = {
  name: 'ls',
  summary: 'list archives with records, bytes and times',
  help,
  async run (argv, io) {
    const { positionals } = parse(argv, {}, true)
    if (positionals.length !== 1) throw usage('ls needs exactly one PATTERN (quote globs)')
    const files = (await listFiles(splitGlob(positionals[0]))).sort(comparator('name'))
    let records = 0
    let bytes = 0
    for (const file of files) {
      const { stats: s, compression: bad } = await scanArchive(fs.createReadStream(file.path, { highWaterMark: 1 << 20 }), file.path)
      const compression = bad === null ? '' : `gzip damaged at compressed byte ${bad.offset}`
      records += s.records
      bytes += file.size
      const damage = [s.corrupt > 0 ? `${s.bytesSkipped} bytes unreadable` : '', compression].filter((d) => d !== '').join(', ')
      const mark = damage === '' ? '' : `  DAMAGED (${damage})`
      io.stdout.write(`${file.name}\t${s.records} records\t${file.size} bytes\t${s.bytes} archive bytes\t${new Date(file.mtimeMs).toISOString()}${mark}\n`)
    }
    const times = files.map((f) => f.mtimeMs)
    const range = files.length === 0 ? '' : `, ${new Date(Math.min(...times)).toISOString()} .. ${new Date(Math.max(...times)).toISOString()}`
    io.stdout.write(`${files.length} files, ${records} records, ${bytes} bytes${range}\n`)
    return 0
  }
}
