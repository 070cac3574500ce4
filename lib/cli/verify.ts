/** shoebox verify: check archives end to end and report damage. */
import { ShoeboxError } from '../errors.js'
import type { Command } from './command.js'
import { openInput, usage } from './io.js'
import { parse } from './options.js'
import { maxFrameSizeFrom, maxRecordSizeFrom, readOptionHelp, readOptionSpec } from './read-options.js'
import { scanArchive, type Scan } from './scan.js'
import { plural } from '../plural.js'

const help = `Usage: shoebox verify file ...

Reads every record of each archive ('-' is stdin; plain, gzip or zstd), proves each v2 record by its
checksum (v1 records carry none and are checked for structure only), and
prints one line per file with its record counts (and its codec, if
compressed), then one line per damaged
stretch (byte offset, reason, bytes skipped). Exits 1 if any file is damaged
or unreadable, 0 if all are intact.

Options:
${readOptionHelp}
  -h, --help    show this help`

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check archives end to end; exit 1 on any damage',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, readOptionSpec, true)
    if (positionals.length === 0) throw usage('verify needs at least one file')
    const maxRecordSize = maxRecordSizeFrom(values)
    const maxFrameSize = maxFrameSizeFrom(values)
    let failed = 0
    for (const name of positionals) {
      const file = name === '-' ? 'stdin' : name
      let scan: Scan
      try {
        scan = await scanArchive(await openInput(io, name), file, maxRecordSize, maxFrameSize)
      } catch (err) {
        if (!(err instanceof ShoeboxError)) throw err
        failed++
        io.stdout.write(`${file}: UNREADABLE: ${err.message}\n`)
        continue
      }
      const { stats: s, damage, compression } = scan
      const codec = scan.codec === 'none' ? '' : `, ${scan.codec}`
      if (compression !== null) {
        failed++
        io.stdout.write(`${file}: DAMAGED: ${plural(s.records, 'record')} (v1 ${s.v1}, v2 ${s.v2}) readable before it${codec}; at compressed byte ${compression.offset}: ${compression.reason}: ${compression.detail}\n`)
        continue
      }
      const counts = `${plural(s.records, 'record')} (v1 ${s.v1}, v2 ${s.v2}), ${plural(s.bytes, 'byte')}${codec}`
      if (damage.length === 0) {
        io.stdout.write(`${file}: OK: ${counts}\n`)
        continue
      }
      failed++
      io.stdout.write(`${file}: DAMAGED: ${counts} readable, ${plural(damage.length, 'damaged stretch', 'damaged stretches')}, ${plural(s.bytesSkipped, 'byte')} skipped\n`)
      for (const d of damage) {
        io.stdout.write(`${file}:   at byte ${d.offset}: ${d.reason}: ${d.detail} (${plural(d.bytesSkipped, 'byte')} skipped)\n`)
      }
    }
    return failed > 0 ? 1 : 0
  }
}
