/**
 * SIGINT or SIGTERM during `shoebox read` without --follow, or `shoebox
 * decode`, cuts the read short: the output still ends after a whole record,
 * and one line on stderr says how many records were written, where it
 * stopped and that the output is incomplete; the exit code is 128 + the
 * signal's number, so that `shoebox read ... > out && upload out` does not
 * take it for a whole read. (With --follow a signal is the normal end:
 * cli-read-follow.test.ts.)
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { encodeRecords } from '../../lib/format/encoder.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-read-signal-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const FILES = 4
const PER_FILE = 20_000
const dir = path.join(tmp, 'archives')
fs.mkdirSync(dir)
for (let f = 0; f < FILES; f++) {
  const records = Array.from({ length: PER_FILE }, (_, k) => ({ metadata: {}, payload: { n: f * PER_FILE + k, pad: 'x'.repeat(100) } }))
  fs.writeFileSync(path.join(dir, `f${f}.shoebox`), encodeRecords(records))
}

const archives = Array.from({ length: FILES }, (_, f) => path.join(dir, `f${f}.shoebox`))
const commands = [
  ['read', ['read', path.join(dir, '*.shoebox'), '--payload-only'], 'SIGINT', 130],
  ['read', ['read', path.join(dir, '*.shoebox'), '--payload-only'], 'SIGTERM', 143],
  ['decode', ['decode', '--payload-only', ...archives], 'SIGINT', 130],
  ['decode', ['decode', '--payload-only', ...archives], 'SIGTERM', 143]
] as const

for (const [command, args, signal, exitCode] of commands) {
  t.test(`${signal} during ${command}: whole records, one line saying the output is incomplete, exit ${exitCode}`, async (t) => {
    const child = spawn(process.execPath, [cliBinary(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => { resolve([code, sig]) }))
    // The first output shows the read under way; then stdout is not read, so the read waits there (a full pipe)
    // with far more than its buffers still to read, until the signal.
    await new Promise<void>((resolve) => {
      child.stdout.once('data', (b: Buffer) => {
        out.push(b)
        child.stdout.pause()
        resolve()
      })
    })
    child.kill(signal)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stdout.resume()
    const [code, sig] = await exited
    t.equal(sig, null, 'exited, not killed by the signal')
    t.equal(code, exitCode, stderr)
    const text = Buffer.concat(out).toString('utf8')
    t.ok(text.endsWith('\n'), 'the output ends after a whole line')
    const got = text.split('\n').slice(0, -1).map((line) => (JSON.parse(line) as { n: number }).n)
    t.ok(got.length > 0 && got.length < FILES * PER_FILE, `stopped mid-way (${got.length} records)`)
    t.same(got, Array.from({ length: got.length }, (_, n) => n), 'whole records, in order, none missing')
    t.match(stderr, new RegExp(`^shoebox ${command}: interrupted by ${signal}; ${got.length} records written, stopped (in|after) \\S+f\\d\\.shoebox; the output is incomplete\\n$`))
  })
}
