/** shoebox verify: check archives end to end and report damage. */
import { ShoeboxError } from '../errors.js'
import type { Command } from './command.js'
import { openInputWhole, usage, type Io } from './io.js'
import { filesOfArguments } from './file-args.js'
import { inFlags, parse } from './options.js'
import { maxFrameSizeFrom, maxRecordSizeFrom, READ_FLAGS, readOptionHelp, readOptionSpec } from './read-options.js'
import { scanArchive, type Scan } from './scan.js'
import { plural } from '../plural.js'
import type { DecodedCorruptInfo } from '../format/decode.js'
import { DAMAGE_LINES_PER_FILE, DamageLines } from './damage-lines.js'
import { oneLine } from './one-line.js'
import { LOOK_AHEAD, ReadAhead } from '../source/read-ahead.js'
import type { Readable } from 'node:stream'

const help = `Usage: shoebox verify file ...

Reads every record of each archive ('-' is stdin; plain, gzip or zstd; a
directory stands for the files directly in it; a file named twice is read
once), proves each v2 record by its checksum (v1 records carry none and are
checked for structure only), and
prints one line per file with its record counts (and its codec, if
compressed), then one line per damaged stretch (byte offset, reason, bytes
skipped), except that the stretches within one zstd frame are one line
naming the frame (its compressed offset and length, the bytes its stretches
span, how many, bytes skipped); at most ${DAMAGE_LINES_PER_FILE} lines per file, then one
line counting the rest. Exits 1 if any file is damaged or unreadable, 0 if
all are intact.

Options:
${readOptionHelp}
  -h, --help    show this help`

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check archives end to end; exit 1 on any damage',
  help,
  flags: READ_FLAGS,
  async run (argv, io) {
    const { values, positionals: named } = parse(argv, readOptionSpec, true)
    if (named.length === 0) throw usage('needs at least one file')
    const maxRecordSize = maxRecordSizeFrom(values)
    const maxFrameSize = maxFrameSizeFrom(values)
    // A directory as the files directly in it; a file named twice verified once (file-args.ts).
    const positionals = await filesOfArguments(named)
    let failed = 0
    // The next few files are opened (and, if small, read) while one is scanned, as ls and read do (read-ahead.ts):
    // their opens overlap. Their sizes are unknown until opened: a big one is opened, not read. Not stdin.
    const ahead = new ReadAhead<{ name: string }, Promise<Readable | Buffer>>((file) => openInputWhole(io, file.name))
    try {
      for (const [index, name] of positionals.entries()) {
        ahead.ahead(positionals.slice(index + 1, index + 1 + LOOK_AHEAD).filter((next) => next !== '-').map((next) => ({ name: next })))
        const opened = (name === '-' ? undefined : ahead.take({ name })) ?? openInputWhole(io, name)
        if (!await verifyOne(io, name, ReadAhead.settle(opened), maxRecordSize, maxFrameSize)) failed++
      }
    } finally {
      ahead.clear()
    }
    return failed > 0 ? 1 : 0
  }
}

/** Verify one input, opened as `opened`, and print its lines: whether it is intact. */
async function verifyOne (io: Io, name: string, opened: Promise<Readable | Buffer>, maxRecordSize: number | undefined, maxFrameSize: number | undefined): Promise<boolean> {
  const file = name === '-' ? 'stdin' : name
  // As printed: one line each, whatever the name holds (a newline, an escape sequence).
  const shown = oneLine(file)
  let scan: Scan
  try {
    scan = await scanArchive(await opened, file, maxRecordSize, maxFrameSize)
  } catch (err) {
    // A setting at fault (SHOEBOX_ZSTD or SHOEBOX_NATIVE mistyped: SHOEBOX_USAGE) is no fault of the file: the run fails, exit 2.
    if (!(err instanceof ShoeboxError) || err.code === 'SHOEBOX_USAGE') throw err
    io.stdout.write(`${shown}: UNREADABLE: ${oneLine(err.message)}\n`)
    return false
  }
  const { stats: s, damage, compression } = scan
  const codec = scan.codec === 'none' ? '' : `, ${scan.codec}`
  if (compression !== null) {
    io.stdout.write(`${shown}: DAMAGED: ${plural(s.records, 'record')} (v1 ${s.v1}, v2 ${s.v2}) readable before it${codec}; at compressed byte ${compression.offset}: ${compression.reason}: ${inFlags(compression.detail, READ_FLAGS)}\n`)
    return false
  }
  const counts = `${plural(s.records, 'record')} (v1 ${s.v1}, v2 ${s.v2}), ${plural(s.bytes, 'byte')}${codec}`
  if (damage.length === 0) {
    io.stdout.write(`${shown}: OK: ${counts}\n`)
    return true
  }
  io.stdout.write(`${shown}: DAMAGED: ${counts} readable, ${plural(damage.length, 'damaged stretch', 'damaged stretches')}, ${plural(s.bytesSkipped, 'byte')} skipped\n`)
  const lines = new DamageLines<DecodedCorruptInfo>((text) => { io.stdout.write(`${shown}:   ${text}\n`) }, stretchLine)
  for (const d of damage) lines.add(d)
  lines.end()
  return false
}

/** A damaged stretch outside any zstd frame, or a zstd frame that could not be decompressed (in compressed bytes): where, why, how much. */
function stretchLine (d: DecodedCorruptInfo): string {
  if (d.reason === 'bad-compression' || d.needsDictionary === true) return `at compressed byte ${d.offset}: ${d.reason}: ${d.detail} (${plural(d.bytesSkipped, 'compressed byte')} skipped)`
  return `at byte ${d.offset}: ${d.reason}: ${d.detail} (${plural(d.bytesSkipped, 'byte')} skipped)`
}
