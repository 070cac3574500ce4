/**
 * The NDJSON baseline for bench/cli.js: read NDJSON on stdin, parse every
 * line with split2(JSON.parse), count, print the count. What a user writes
 * before reaching for an archiver. Stdin is read in 1 MiB chunks, like the
 * shoebox CLI (lib/cli/io.ts), so the two differ in what they do per line,
 * not in how they read.
 *
 *   node bench/baseline-split2.js < events.ndjson
 */
import fs from 'node:fs'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import split2 from 'split2'

let records = 0
try {
  await pipeline(
    fs.createReadStream('', { fd: 0, highWaterMark: 1024 * 1024, autoClose: false }),
    split2(JSON.parse),
    new Writable({ objectMode: true, highWaterMark: 1024, write (_value, _enc, cb) { records++; cb() } })
  )
  process.stdout.write(`${records}\n`)
} catch (err) {
  process.stderr.write(`baseline-split2: ${err.message}\n`)
  process.exitCode = 1
}
