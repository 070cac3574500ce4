/**
 * `shoebox read --follow` as the README promises it ("keeps watching for new
 * files until interrupted"): the real binary prints what is there, then each
 * file sealed later, once, in order, and SIGINT ends it cleanly (exit 0)
 * with every record printed and one line saying how many.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { encodeRecords } from '../../lib/format/encoder.js'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-read-follow-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const archive = (from: number, to: number): Buffer =>
  encodeRecords(Array.from({ length: to - from }, (_, k) => ({ metadata: { n: String(from + k) }, payload: { n: from + k } })))

/** `shoebox read DIR/*.shoebox --follow --payload-only` as a child process, its output collected. */
function follow (dir: string): {
  stdout: () => string
  stderr: () => string
  until: (lines: number) => Promise<number>
  exited: Promise<[number | null, NodeJS.Signals | null]>
  kill: (signal: NodeJS.Signals) => void
} {
  const child = spawn(process.execPath, [cliBinary(), 'read', path.join(dir, '*.shoebox'), '--follow', '--payload-only'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (code, sig) => { resolve([code, sig]) }))
  const lines = (): number => stdout.split('\n').length - 1
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    // The lines printed once there are `n` (or a minute has passed).
    until: async (n) => {
      const deadline = Date.now() + 60_000
      while (lines() < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25))
      return lines()
    },
    exited,
    kill: (signal) => { child.kill(signal) }
  }
}

/** The printed payloads, parsed. */
const printed = (stdout: string): unknown[] => stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown)

t.test('read --follow prints new files as they are sealed, and SIGINT ends it with exit 0', async (t) => {
  const dir = path.join(tmp, 'events')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'a.shoebox'), archive(0, 10))
  const reader = follow(dir)

  t.equal(await reader.until(10), 10, 'the file already there')
  // A writer's way: a hidden temporary name first (never matched), then the final name.
  const temp = path.join(dir, '.b.shoebox.part')
  fs.writeFileSync(temp, archive(10, 25))
  fs.renameSync(temp, path.join(dir, 'b.shoebox'))
  t.equal(await reader.until(25), 25, 'a file sealed while following')
  fs.writeFileSync(path.join(dir, 'c.shoebox'), archive(25, 30))
  await reader.until(30)

  reader.kill('SIGINT')
  t.same(await reader.exited, [0, null], 'SIGINT ends it cleanly')
  t.match(reader.stderr(), /^shoebox read: stopped by SIGINT; 30 records written, stopped after \S+c\.shoebox\n$/, 'one line: what was written')
  t.same(printed(reader.stdout()), Array.from({ length: 30 }, (_, n) => ({ n })), 'every record once, in order')
})

t.test('SIGTERM ends read --follow cleanly too: exit 0, every record printed whole', async (t) => {
  const dir = path.join(tmp, 'term')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'a.shoebox'), archive(0, 10))
  const reader = follow(dir)
  await reader.until(10)
  reader.kill('SIGTERM')
  t.same(await reader.exited, [0, null], 'exit 0, not killed by the signal')
  t.match(reader.stderr(), /^shoebox read: stopped by SIGTERM; 10 records written, stopped after \S+a\.shoebox\n$/, 'one line: what was written')
  t.same(printed(reader.stdout()), Array.from({ length: 10 }, (_, n) => ({ n })), 'every record once, in order')
})
