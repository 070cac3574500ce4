/** shoebox verify: check archives end to end and report damage. */
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { gunzip } from '../compress/gzip.js'
import { decode, type DecodedCorruptInfo } from '../format/decode.js'
import type { Command } from './command.js'
import { openInput, usage } from './io.js'
import { parse } from './options.js'
import { CorruptArchiveError, ShoeboxError } from '../errors.js'

const help = `Usage: shoebox verify file ...

Reads every record of each archive ('-' is stdin), proves each v2 record by its
checksum (v1 records carry none and are checked for structure only), and
prints one line per file with its record counts, then one line per damaged
stretch (byte offset, reason, bytes skipped). Exits 1 if any file is damaged
or unreadable, 0 if all are intact.

Options:
  -h, --help    show this help`

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check archives end to end; exit 1 on any damage',
  help,
  async run (argv, io) {
    const { positionals } = parse(argv, {}, true)
    if (positionals.length === 0) throw usage('verify needs at least one file')
    let failed = 0
    for (const name of positionals) {
      const file = name === '-' ? 'stdin' : name
      const damage: DecodedCorruptInfo[] = []
      const decoder = decode({ mode: 'lenient', file })
      decoder.on('corrupt', (info: DecodedCorruptInfo) => { damage.push(info) })
      try {
        await pipeline(await openInput(io, name), gunzip(), decoder, new Writable({ objectMode: true, write: (_r, _e, cb) => { cb() } }))
      } catch (err) {
        if (!(err instanceof ShoeboxError)) throw err
        failed++
        if (err instanceof CorruptArchiveError && err.reason === 'bad-compression') {
          const s = decoder.stats
          io.stdout.write(`${file}: DAMAGED: ${s.records} records (v1 ${s.v1}, v2 ${s.v2}) readable before it; at compressed byte ${err.offset}: ${err.reason}: ${err.detail}\n`)
        } else {
          io.stdout.write(`${file}: UNREADABLE: ${err.message}\n`)
        }
        continue
      }
      const s = decoder.stats
      const counts = `${s.records} records (v1 ${s.v1}, v2 ${s.v2}), ${s.bytes} bytes`
      if (damage.length === 0) {
        io.stdout.write(`${file}: OK: ${counts}\n`)
        continue
      }
      failed++
      io.stdout.write(`${file}: DAMAGED: ${counts} readable, ${damage.length} damaged stretch${damage.length === 1 ? '' : 'es'}, ${s.bytesSkipped} bytes skipped\n`)
      for (const d of damage) {
        io.stdout.write(`${file}:   at byte ${d.offset}: ${d.reason}: ${d.detail} (${d.bytesSkipped} bytes skipped)\n`)
      }
    }
    return failed > 0 ? 1 : 0
  }
}
