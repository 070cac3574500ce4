/**
 * SIGINT or SIGTERM during `write` or `encode` of compressed NDJSON: the cut
 * is at the last whole line of the decompressed text, as for plain input
 * (lib/cli/stdin-gate.ts): a line whose end was not decompressed when the
 * signal came is not stored, and the summary names its bytes. From a pipe
 * the signal is the normal end (exit 0); a regular file on stdin is cut
 * short (130 or 143).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import zlib from 'node:zlib'
import t from 'tap'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { decodeRecords } from '../helpers.js'
import { readDir, tempNames } from '../fixtures-roll/util.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-compressed-signal-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

/** 100 whole lines and the start of another (7 bytes): what a producer still writing has sent so far. */
const LINES = Array.from({ length: 100 }, (_, i) => JSON.stringify({ i }))
const SENT = Buffer.from(LINES.join('\n') + '\n{"cut":')

/** SENT compressed so that all of it decompresses now: a gzip stream flushed (not ended), or one whole zstd frame. */
async function compressedSoFar (codec: 'gzip' | 'zstd'): Promise<Buffer> {
  if (codec === 'zstd') return await zstdFrame(SENT, 3)
  const gz = zlib.createGzip()
  const out: Buffer[] = []
  gz.on('data', (b: Buffer) => out.push(b))
  gz.write(SENT)
  await new Promise<void>((resolve) => { gz.flush(zlib.constants.Z_SYNC_FLUSH, () => { resolve() }) })
  return Buffer.concat(out)
}

for (const [codec, signal] of [['gzip', 'SIGINT'], ['zstd', 'SIGTERM']] as const) {
  t.test(`${signal} during write of ${codec} from a pipe: the whole lines decompressed are sealed, the cut one is not, exit 0`, async (t) => {
    const dir = path.join(tmp, `write-${codec}`)
    const child = spawn(process.execPath, [cliBinary(), 'write', dir, '--flush-interval', '50ms'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    child.stdin.on('error', () => {})
    // stdin stays open, as with a live producer; wait until the lines reached a (temporary) file.
    child.stdin.write(await compressedSoFar(codec))
    const deadline = Date.now() + 60_000
    const written = (): boolean => fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.endsWith('.part') && fs.statSync(path.join(dir, n)).size > 0)
    while (!written() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    t.ok(written(), 'the records reached a temporary file')
    child.kill(signal)
    t.equal(await exited, 0, stderr)
    t.same(tempNames(dir), [], 'no temporary file left')
    t.same(readDir(dir).records.map((r) => r.payload.toString()), LINES, 'the whole lines, not the cut one')
    t.match(stderr, new RegExp(`^shoebox write: 100 records, 1 file sealed, .*; stopped by ${signal}: 100 records sealed, the line being read when ${signal} came \\(7 bytes of it read\\) not stored, the rest of stdin was not read\\n$`))
  })
}

t.test('SIGINT during encode of gzip from a pipe: the output ends after the last whole line, exit 0', async (t) => {
  const child = spawn(process.execPath, [cliBinary(), 'encode'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdin.on('error', () => {})
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  child.stdin.write(await compressedSoFar('gzip'))
  // The encoder writes its records as they come: wait for all 100.
  const deadline = Date.now() + 60_000
  const encoded = async (): Promise<number> => (await decodeRecords(Buffer.concat(out)).catch(() => [])).length
  while (await encoded() < 100 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  child.kill('SIGINT')
  t.equal(await exited, 0, stderr)
  t.same((await decodeRecords(Buffer.concat(out))).map((r) => r.payload.toString()), LINES)
  t.equal(stderr, 'shoebox encode: interrupted by SIGINT; 100 records written, the line being read when SIGINT came (7 bytes of it read) not encoded, the rest of stdin was not read\n')
})

t.test('SIGINT during write < a zstd file: only whole lines are sealed, exit 130', async (t) => {
  // 1 KiB lines in frames of 100 lines and a half: each frame's text ends inside a line.
  const lines = Array.from({ length: 40 * 1024 }, (_, i) => Buffer.from(JSON.stringify({ i, pad: 'y'.repeat(1000 - String(i).length) })))
  const text = Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')]))
  const step = 100 * 1015 + 500
  const frames: Buffer[] = []
  for (let from = 0; from < text.length; from += step) frames.push(await zstdFrame(text.subarray(from, from + step), 1))
  const file = path.join(tmp, 'in.ndjson.zst')
  fs.writeFileSync(file, Buffer.concat(frames))
  const out = path.join(tmp, 'file-out')
  const fd = fs.openSync(file, 'r')
  t.teardown(() => { fs.closeSync(fd) })
  const child = spawn(process.execPath, [cliBinary(), 'write', out, '--template', 'w-{seq}.shoebox', '--roll-records', '500', '--fsync', 'always'],
    { stdio: [fd, 'ignore', 'pipe'] })
  let stderr = ''
  ;(child.stderr as Readable).on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => { resolve([code, sig]) }))
  const sealedCount = (): number => fs.existsSync(out) ? fs.readdirSync(out).filter((n) => n.endsWith('.shoebox')).length : 0
  const deadline = Date.now() + 60_000
  while (sealedCount() < 2 && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  child.kill('SIGINT')
  const [code, sig] = await exited
  t.equal(sig, null, 'exited, not killed by the signal')
  t.equal(code, 130, `a file on stdin cut short: ${stderr}`)
  t.same(tempNames(out), [], 'no temporary file left')
  const stored = readDir(out).records.map((r) => r.payload)
  t.ok(stored.length >= 1000 && stored.length < lines.length, `stopped mid-file (${stored.length} records)`)
  const cut = stored.findIndex((payload, i) => !payload.equals(lines[i]))
  t.equal(cut, -1, cut === -1 ? 'every record a whole input line, in order' : `record ${cut} is not line ${cut}`)
  t.match(stderr, new RegExp(`; stopped by SIGINT: ${stored.length} records sealed(, the line being read when SIGINT came \\(\\d+ bytes? of it read\\) not stored)?, the rest of stdin was not read\\n$`))
})
