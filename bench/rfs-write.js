/**
 * The rotating-file-stream peer for bench/write.js: copy an NDJSON file into
 * a rotating-file-stream 3.x stream with `size: '32M'` (32 MiB of
 * uncompressed data per file) and `compress: 'gzip'`, and exit only once
 * every file is gzip-compressed on disk.
 *
 *   node bench/rfs-write.js INPUT DIR
 *
 * The input is read with fs.createReadStream in 1 MiB chunks and each chunk
 * is written to the rfs stream as is (the fewest writes rfs can get; a
 * logger would write one line at a time). Files rotate at chunk boundaries.
 *
 * How rfs compresses: on a size rotation it closes the active file and gzips
 * it (createReadStream → zlib.createGzip(), default level 6 → rotated file)
 * before it accepts the next write, so compression is part of the write
 * path, and 'finish' comes only after every rotation has finished. rfs does
 * NOT rotate (so does not compress) the active file on end(). For the output
 * to be all gzip, as shoebox's is, this script then compresses that last
 * file with the same pipeline rfs uses for its rotations and removes the
 * plain file. All of it is inside the timed child process.
 *
 * Prints one JSON line: { bytes, rotations, rotated, files }.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import { createStream } from 'rotating-file-stream'

const [input, dir] = process.argv.slice(2)
if (input === undefined || dir === undefined) {
  process.stderr.write('usage: node bench/rfs-write.js INPUT DIR\n')
  process.exit(2)
}

const ACTIVE = 'active.ndjson'
let seq = 0
// Rotated names sort in write order: part-0001.ndjson.gz, part-0002.ndjson.gz, ...
// (rfs adds no .gz to a generator's names, so the generator does.)
const name = (n) => `part-${String(n).padStart(4, '0')}.ndjson.gz`
const generator = (time) => time === null ? ACTIVE : name(++seq)

try {
  const stream = createStream(generator, { path: dir, size: '32M', compress: 'gzip' })
  let rotations = 0
  let rotated = 0
  let bytes = 0
  stream.on('rotation', () => { rotations++ })
  stream.on('rotated', () => { rotated++ })
  stream.on('warning', (err) => { process.stderr.write(`rfs-write: warning: ${err.message}\n`) })
  const input$ = fs.createReadStream(input, { highWaterMark: 1024 * 1024 })
  input$.on('data', (chunk) => { bytes += chunk.length })
  // pipeline resolves on the rfs stream's 'finish': every write has returned,
  // and rfs awaits each rotation (compression included) inside the write.
  await pipeline(input$, stream)
  if (rotated !== rotations) throw new Error(`${rotations} rotations started but ${rotated} 'rotated' events`)

  // The active file: compress it the way rfs compresses a rotated file.
  const active = path.join(dir, ACTIVE)
  if (fs.statSync(active).size > 0) {
    await pipeline(fs.createReadStream(active), zlib.createGzip(), fs.createWriteStream(path.join(dir, name(++seq))))
  }
  fs.unlinkSync(active)
  process.stdout.write(JSON.stringify({ bytes, rotations, rotated, files: fs.readdirSync(dir).length }) + '\n')
} catch (err) {
  process.stderr.write(`rfs-write: ${err.stack}\n`)
  process.exitCode = 1
}
