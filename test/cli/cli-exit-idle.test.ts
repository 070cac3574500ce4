/**
 * bin.ts ends a finished command with process.exit() once the event loop has
 * run dry ('beforeExit'), instead of letting Node tear the heap down first;
 * not when another 'beforeExit' listener is there. Real processes from the
 * transpiled sources, with a preload that records each process.exit() call
 * and what was active then: the exit must be taken after `write < file`,
 * only after output to a slow pipe has all gone, not while a 'beforeExit'
 * listener waits, and nothing written may be lost.
 */
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { ROOT, transpileTree } from '../transpile.js'

const run = promisify(execFile)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-exit-idle-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const bin = transpileTree(path.join(ROOT, 'lib', 'cli', 'bin.ts'), path.join(tmp, 'cli'))

// Each process.exit() call, with the resources active then, as one stderr line.
const SPY = path.join(tmp, 'spy.mjs')
fs.writeFileSync(SPY, `const exit = process.exit.bind(process)
process.exit = (code) => { process._rawDebug('EXIT ' + JSON.stringify(process.getActiveResourcesInfo())); exit(code) }
`)
const node = (...args: string[]): string[] => [process.execPath, '--import', pathToFileURL(SPY).href, ...args]

const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ i, s: 'ü€😀'.repeat(i % 5) }))
const input = path.join(tmp, 'in.ndjson')
fs.writeFileSync(input, lines.join('\n') + '\n')

/** `shoebox ARGS < input`, from the shell as a user runs it; stdout to a file. */
async function shell (args: string[], stdinFile: string, stdoutFile: string): Promise<string> {
  const { stderr } = await run('/bin/sh', ['-c', 'out=$1; shift; exec "$@" < "$0" > "$out"', stdinFile, stdoutFile, ...node(bin, ...args)], { cwd: tmp })
  return stderr
}

t.test('write < file: exits at once once idle, every record sealed', async (t) => {
  const dir = path.join(tmp, 'written')
  const stderr = await shell(['write', dir, '--zstd', '--roll-records', '7000'], input, path.join(tmp, 'write.out'))
  t.match(stderr, /shoebox write: 20,?000 records, 3 files sealed/)
  t.match(stderr, /^EXIT /m, 'process.exit() was called')
  t.notMatch(stderr, /^EXIT .*(WriteWrap|FSReq)/m, 'with no write or file request pending')
  const out = path.join(tmp, 'read.out')
  await shell(['read', path.join(dir, '*'), '--payload-only'], '/dev/null', out)
  t.equal(fs.readFileSync(out, 'utf8'), lines.join('\n') + '\n', 'and reads back whole')
})

t.test('output to a slow pipe: the exit waits for it, and the reader gets every byte', async (t) => {
  const dir = path.join(tmp, 'piped')
  await shell(['write', dir, '--gzip'], input, path.join(tmp, 'piped.out'))
  // A reader that takes its time: the CLI's writes to the pipe are still pending when the command is done.
  const [cmd, ...args] = node(bin, 'read', path.join(dir, '*'), '--payload-only')
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const chunks: Buffer[] = []
  child.stdout.pause()
  await new Promise((resolve) => setTimeout(resolve, 500))
  child.stdout.on('data', (b: Buffer) => chunks.push(b))
  child.stdout.resume()
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 0, stderr)
  t.equal(Buffer.concat(chunks).toString('utf8'), lines.join('\n') + '\n', 'every line arrived')
  t.match(stderr, /^EXIT /m, 'process.exit() was called')
  t.notMatch(stderr, /^EXIT .*WriteWrap/m, 'with no write pending')
})

t.test("a 'beforeExit' listener keeps the natural exit, and runs", async (t) => {
  const dir = path.join(tmp, 'listened')
  const hook = path.join(tmp, 'before-exit.mjs')
  fs.writeFileSync(hook, "process.once('beforeExit', () => { process._rawDebug('BEFORE EXIT') })\n")
  const { stderr } = await run('/bin/sh', ['-c', 'exec "$@" < "$0"', input, ...node('--import', pathToFileURL(hook).href, bin, 'write', dir)], { cwd: tmp })
  t.match(stderr, /^BEFORE EXIT$/m)
  t.notMatch(stderr, /^EXIT /m, 'process.exit() was not called')
})
