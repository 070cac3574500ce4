/**
 * shoebox ship with a regular file on stdin and a server that stalls: the
 * file is read no further ahead than the shipper can hold (a batch for each
 * of the 8 in flight) plus one read, not ~22 MB (the stages between stdin and
 * the shipper each held a 1 MiB read or two, and the queue 10,000 events); a
 * signal then ships what was read, no more.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import t from 'tap'
import { READ_CHUNK } from '../../lib/cli/io.js'
import { startCollector } from '../events/fixtures/collector.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'

/** Where the open file description of `fd` stands (shared with a child given it as stdin): the bytes read from it (Linux). */
function offset (fd: number): number {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
  return Number(/^pos:\s*(\d+)/m.exec(info)?.[1])
}

/** Resolves once `fd`'s offset has stood still for `quietMs` (the reader stopped), with it. */
async function stoppedReading (fd: number, quietMs: number): Promise<number> {
  let last = offset(fd)
  let since = Date.now()
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const now = offset(fd)
    if (now !== last) {
      last = now
      since = Date.now()
    } else if (Date.now() - since >= quietMs) {
      return now
    }
  }
}

/** The shipper's default batch: 1 MiB of event text (or 500 events), 8 of them in flight. */
const BATCH_BYTES = 1024 * 1024
const IN_FLIGHT = 8

t.test('a regular file on stdin, a stalled server: stdin is read at most a batch for each in flight and one read ahead; SIGINT ships those lines: exit 130', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.stall(true)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-stall-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const file = path.join(dir, 'events.ndjson')
  const count = 30_000
  const line = (seq: number): string => JSON.stringify({ seq, pad: 'x'.repeat(1000) }) + '\n'
  fs.writeFileSync(file, Array.from({ length: count }, (_, seq) => line(seq)).join(''))
  const size = fs.statSync(file).size
  const fd = fs.openSync(file, 'r')
  t.teardown(() => { fs.closeSync(fd) })
  const child = spawn(process.execPath, [cliBinary(), 'ship', collector.url, '--stream', 's'], { stdio: [fd, 'ignore', 'pipe'] })
  let stderr = ''
  ;(child.stderr as Readable).on('data', (b: Buffer) => { stderr += b.toString() })
  const closed = once(child, 'close')
  /** Resolves once `done()` holds, looked at every 20 ms (no deadline but tap's timeout: a busy machine is slow, not wrong). */
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await until(() => collector.requests > 0)
  t.ok(collector.requests > 0, 'a first batch was sent, and is not answered')
  // Not a timing assertion: the wait only lets the reading go as far as it would (on a busy machine a reader
  // that only paused may pass for stopped; it is still bounded, below, by what it read until the signal).
  await stoppedReading(fd, 1000)
  child.kill('SIGINT')
  // The server stays stalled until the child has taken the signal (its note, 2 s after, says it stopped reading):
  // answers released at once let it read on before it saw the signal, past the offset taken here before the kill
  // (1 of 10 runs under two busy loops).
  await until(() => stderr.includes('SIGINT: stopped reading stdin'))
  const read = offset(fd)
  t.ok(read <= IN_FLIGHT * BATCH_BYTES + READ_CHUNK, `stdin read ${read} bytes ahead of a stalled server, no more than ${IN_FLIGHT} batches (${BATCH_BYTES} each) and a read (${READ_CHUNK}); the file has ${size}`)
  collector.stall(false)
  const [code, signal] = await closed as [number | null, NodeJS.Signals | null]
  t.equal(offset(fd), read, 'nothing read from stdin after the signal')
  t.same([code, signal], [130, null], stderr)
  const match = /shipped (\d+) events in .*; stopped by SIGINT after (\d+) lines of stdin(, the line being read when SIGINT came \(\d+ bytes? of it read\) not stored)?\n$/.exec(stderr)
  t.ok(match !== null, stderr)
  const lines = Number(match?.[2])
  t.equal(Number(match?.[1]), lines, 'every line read shipped')
  t.ok(lines > 0 && lines * line(0).length <= read, `the lines shipped (${lines}) are among the bytes read`)
  t.same(collector.stored.map((e) => e.event.seq as number).sort((a, b) => a - b), Array.from({ length: lines }, (_, seq) => seq), 'each line read shipped once, none after')
})
