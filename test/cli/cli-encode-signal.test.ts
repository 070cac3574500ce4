/**
 * SIGINT or SIGTERM during `shoebox encode`: the output ends after a whole
 * record (and, compressed, as a complete stream), holding every line read in
 * order, with one line saying how many records were written. Killed by the
 * signal, the output ended wherever the encoder or the compressor was. With
 * stdin a pipe still open (a producer that may never end) the signal is the
 * normal end, exit 0; with a regular file on stdin it cut the input short,
 * exit 128 + the signal's number (lib/cli/interrupt.ts).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import zlib from 'node:zlib'
import t, { type Test } from 'tap'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { decodeRecords } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-encode-signal-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const COUNT = 200_000
const LINES = Array.from({ length: COUNT }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(50) }) + '\n').join('')

/** The records of encode's output, as the `i` of each line, and checked to be the lines read, in order. */
async function encoded (t: Test, output: Buffer, gzip: boolean): Promise<number[]> {
  const archive = gzip ? zlib.gunzipSync(output) : output // a truncated gzip stream throws
  const records = await decodeRecords(archive)
  const got = records.map((r) => (JSON.parse(r.payload.toString()) as { i: number }).i)
  t.same(got, Array.from({ length: got.length }, (_, i) => i), 'whole records: the lines read, in order')
  t.ok(got.length > 0 && got.length < COUNT, `records were written, not all (${got.length})`)
  return got
}

function stderrLine (signal: string, records: number): RegExp {
  return new RegExp(`^shoebox encode: interrupted by ${signal}; ${records} records? written(, the line being read when ${signal} came \\(\\d+ bytes? of it read\\) not encoded)?, the rest of stdin was not read\\n$`)
}

for (const [signal, args] of [['SIGINT', []], ['SIGTERM', ['--gzip']]] as const) {
  t.test(`${signal} during encode ${args.join(' ')} from a pipe: the output ends at a record boundary, exit 0 saying how many`, async (t) => {
    const child = spawn(process.execPath, [cliBinary(), 'encode', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.stdin.on('error', () => {}) // the child stops reading at the signal
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => { resolve([code, sig]) }))
    // A last line without its newline: stdin stays open, so the signal finds it cut.
    child.stdin.write(LINES + '{"cut":')
    // Output has come out: the encoder is under way (still mid-input, or waiting for more).
    const deadline = Date.now() + 60_000
    while (out.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    t.ok(out.length > 0, 'output before the signal')
    child.kill(signal)
    const [code, sig] = await exited
    t.equal(sig, null, 'exited, not killed by the signal')
    t.equal(code, 0, stderr)
    const got = await encoded(t, Buffer.concat(out), args.length > 0)
    t.match(stderr, stderrLine(signal, got.length))
  })
}

for (const [signal, exitCode, args] of [['SIGINT', 130, ['--gzip']], ['SIGTERM', 143, []]] as const) {
  t.test(`${signal} during encode ${args.join(' ')} < file: the output ends at a record boundary, exit ${exitCode} saying how many`, async (t) => {
    const file = path.join(tmp, `in-${signal}.ndjson`)
    fs.writeFileSync(file, LINES)
    const fd = fs.openSync(file, 'r')
    t.teardown(() => { fs.closeSync(fd) })
    const child = spawn(process.execPath, [cliBinary(), 'encode', ...args], { stdio: [fd, 'pipe', 'pipe'] })
    const [stdout, errors] = [child.stdout as Readable, child.stderr as Readable]
    const out: Buffer[] = []
    let stderr = ''
    errors.on('data', (b: Buffer) => { stderr += b.toString() })
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => { resolve([code, sig]) }))
    // The first output shows the encode under way; stdout then goes unread, so it waits there (a full pipe),
    // most of the file still to read, until the signal.
    await new Promise<void>((resolve) => {
      stdout.once('data', (b: Buffer) => {
        out.push(b)
        stdout.pause()
        resolve()
      })
    })
    child.kill(signal)
    stdout.on('data', (b: Buffer) => out.push(b))
    stdout.resume()
    const [code, sig] = await exited
    t.equal(sig, null, 'exited, not killed by the signal')
    t.equal(code, exitCode, stderr)
    const got = await encoded(t, Buffer.concat(out), args.length > 0)
    t.match(stderr, stderrLine(signal, got.length))
  })
}
