/**
 * `shoebox write < file`: a regular file on stdin is read into a few reused
 * buffers (io.ts feedFile) instead of through a read stream. The archives
 * must be the bytes the stream path writes (lines straddling the 1 MiB reads,
 * unicode, a last line without newline), a read error must fail the command
 * with one line, and the real binary must take that path. Stopped by a
 * signal, it must seal only whole lines, though its 1 MiB reads end anywhere
 * in a line.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import type { Io } from '../../lib/cli/io.js'
import { readDir, tempNames } from '../fixtures-roll/util.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../temp-dir.js'

function tmp (t: { teardown: (fn: () => void) => void }): string {
  return tempDir(t, 'shoebox-file-stdin-')
}

function sink (into: Buffer[]): Writable {
  return new Writable({ write (chunk: Buffer, _e, cb) { into.push(Buffer.from(chunk)); cb() } })
}

/** ~5.5 MiB of lines of varied lengths (some far over 1 MiB / 7), unicode, the last without a newline. */
function input (): { text: Buffer, lines: string[] } {
  const lines: string[] = []
  let size = 0
  for (let i = 0; size < 5.5 * 1024 * 1024; i++) {
    const line = JSON.stringify({ i, s: 'é€😀'.repeat(i % 7), pad: 'x'.repeat((i * 7919) % (i % 50 === 0 ? 300_000 : 3000)) })
    lines.push(line)
    size += Buffer.byteLength(line) + 1
  }
  return { text: Buffer.from(lines.join('\n')), lines }
}

async function run (args: string[], io: Io): Promise<{ code: number, stderr: string }> {
  const err: Buffer[] = []
  const code = await main(args, { ...io, stderr: sink(err) })
  return { code, stderr: Buffer.concat(err).toString('utf8') }
}

const files = (dir: string): string[] => fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort()

t.test('a file on stdin writes the same archives as a stream on stdin', async (t) => {
  const base = tmp(t)
  const { text, lines } = input()
  const file = path.join(base, 'in.ndjson')
  fs.writeFileSync(file, text)
  for (const mode of [[], ['--zstd'], ['--gzip=1']]) {
    const viaFile = path.join(base, `file${mode.join('')}`)
    const viaStream = path.join(base, `stream${mode.join('')}`)
    const args = (dir: string): string[] => ['write', dir, '--template', 'w-{seq}.shoebox', '--roll-records', '400', ...mode]
    const fd = fs.openSync(file, 'r')
    try {
      const a = await run(args(viaFile), { stdin: Readable.from([]), stdout: sink([]), stderr: sink([]), stdinFile: fd })
      t.equal(a.code, 0, a.stderr)
    } finally {
      fs.closeSync(fd)
    }
    const b = await run(args(viaStream), { stdin: Readable.from([text]), stdout: sink([]), stderr: sink([]) })
    t.equal(b.code, 0, b.stderr)
    t.ok(files(viaFile).length > 1, `${mode.join(' ') || 'plain'}: several files`)
    t.same(files(viaFile), files(viaStream))
    for (const name of files(viaFile)) {
      t.ok(fs.readFileSync(path.join(viaFile, name)).equals(fs.readFileSync(path.join(viaStream, name))), `${mode.join(' ') || 'plain'} ${name}: the same bytes`)
    }
    if (mode.length === 0) t.same(readDir(viaFile).records.map((r) => r.payload.toString('utf8')), lines, 'every line, as written')
  }
})

t.test('a read error fails the write with one line (exit 1)', async (t) => {
  const base = tmp(t)
  const fd = fs.openSync(base, 'r') // a directory: read() fails with EISDIR
  try {
    const r = await run(['write', path.join(base, 'out')], { stdin: Readable.from([]), stdout: sink([]), stderr: sink([]), stdinFile: fd })
    t.equal(r.code, 1)
    t.match(r.stderr, /^shoebox write: .*(EISDIR|directory).*\n$/)
    t.equal(r.stderr.split('\n').length, 2, 'one line')
  } finally {
    fs.closeSync(fd)
  }
})

t.test('the binary takes a regular file on stdin this way', async (t) => {
  const base = tmp(t)
  const { text, lines } = input()
  const file = path.join(base, 'in.ndjson')
  fs.writeFileSync(file, text)
  const out = path.join(base, 'out')
  const fd = fs.openSync(file, 'r')
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [cliBinary(), 'write', out], { stdio: [fd, 'ignore', 'inherit'] })
    child.on('error', reject)
    child.on('close', resolve)
  }).finally(() => { fs.closeSync(fd) })
  t.equal(code, 0)
  t.same(readDir(out).records.map((r) => r.payload.toString('utf8')), lines)
})

/**
 * Lines of 1 KiB, so that every 1 MiB read of feedFile() ends at the same place in a line: `into` bytes into one
 * (0: right after a newline; 1023: all of a line but its newline), as the first line is longer by 1024 - `into`.
 */
function alignedInput (into: number, lines: number): { text: Buffer, lines: Buffer[] } {
  const all: Buffer[] = []
  for (let i = 0; i < lines; i++) {
    const head = JSON.stringify({ i, pad: '' })
    const pad = 1023 - Buffer.byteLength(head) + (i === 0 ? (1024 - into) % 1024 : 0)
    all.push(Buffer.from(JSON.stringify({ i, pad: 'y'.repeat(pad) })))
  }
  return { text: Buffer.concat(all.flatMap((line) => [line, Buffer.from('\n')])), lines: all }
}

// A signal stops feedFile() after a read, wherever that read ended: the line cut there is not a line, and must not
// be sealed as a record. Each case stops the write once `sealed` files are sealed (its own progress; --fsync always
// keeps it well behind the reads), the 1 MiB reads ending `into` bytes into a line.
for (const [into, sealed, signal] of [[0, 1, 'SIGINT'], [1, 1, 'SIGTERM'], [1023, 2, 'SIGINT'], [517, 1, 'SIGTERM'], [517, 4, 'SIGINT']] as const) {
  t.test(`a signal stops write < file (reads ending ${into} bytes into a line, after ${sealed} sealed): only whole lines are sealed`, async (t) => {
    const base = tmp(t)
    const { text, lines } = alignedInput(into, 40 * 1024)
    const file = path.join(base, 'in.ndjson')
    fs.writeFileSync(file, text)
    const out = path.join(base, 'out')
    const fd = fs.openSync(file, 'r')
    t.teardown(() => { fs.closeSync(fd) })
    const child = spawn(process.execPath, [cliBinary(), 'write', out, '--template', 'w-{seq}.shoebox', '--roll-records', '500', '--fsync', 'always'],
      { stdio: [fd, 'ignore', 'pipe'] })
    const errors = child.stderr as Readable
    let stderr = ''
    errors.on('data', (b: Buffer) => { stderr += b.toString() })
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => { resolve([code, sig]) }))
    const sealedCount = (): number => fs.existsSync(out) ? fs.readdirSync(out).filter((n) => n.endsWith('.shoebox')).length : 0
    const deadline = Date.now() + 60_000
    while (sealedCount() < sealed && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    child.kill(signal)
    const [code, sig] = await exited
    t.equal(sig, null, 'exited, not killed by the signal')
    t.same(tempNames(out), [], 'no temporary file left')
    const stored = readDir(out).records.map((r) => r.payload)
    t.ok(stored.length >= sealed * 500 && stored.length < lines.length, `stopped mid-file (${stored.length} records)`)
    const cut = stored.findIndex((payload, i) => !payload.equals(lines[i]))
    t.equal(cut, -1, cut === -1 ? 'every record a whole input line, in order' : `record ${cut} is not line ${cut}: ${stored[cut].length} bytes of ${lines[cut].length}`)
    t.equal(code, signal === 'SIGINT' ? 130 : 143, `a file on stdin cut short: ${stderr}`)
    // A read that ended right after a newline cut no line.
    const partial = into === 0 ? '' : `, the line being read when ${signal} came \\(${into} bytes? of it read\\) not stored`
    t.match(stderr, new RegExp(`; stopped by ${signal}: ${stored.length} records sealed${partial}, the rest of stdin was not read\\n$`))
  })
}
