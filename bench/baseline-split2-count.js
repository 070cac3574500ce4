/**
 * The read baseline for bench/write.js: read NDJSON on stdin, split it into
 * lines with split2 and count them, print the count. No JSON.parse: `shoebox
 * read --payload-only` does not parse payloads either, it only finds each
 * record and writes its bytes out, so the fair peer only finds each line.
 * Stdin is read in 1 MiB chunks, as in bench/baseline-split2.js.
 *
 *   zcat DIR/*.gz | node bench/baseline-split2-count.js [--parse]
 *
 * --parse adds JSON.parse per line (split2(JSON.parse)), for comparison.
 */
import fs from 'node:fs'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import split2 from 'split2'

let records = 0
try {
  await pipeline(
    fs.createReadStream('', { fd: 0, highWaterMark: 1024 * 1024, autoClose: false }),
    process.argv.includes('--parse') ? split2(JSON.parse) : split2(),
    new Writable({ objectMode: true, highWaterMark: 1024, write (_line, _enc, cb) { records++; cb() } })
  )
  process.stdout.write(`${records}\n`)
} catch (err) {
  process.stderr.write(`baseline-split2-count: ${err.message}\n`)
  process.exitCode = 1
}
