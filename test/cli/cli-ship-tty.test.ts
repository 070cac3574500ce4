/**
 * `shoebox ship` on a terminal (issue 10, item 7): live progress redrawn in
 * place while stdin stays open, then the summary line. A real pseudo-terminal
 * (util-linux `script`), the real binary, events from a FIFO the test writes.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { once } from 'node:events'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startCollector } from '../events/fixtures/collector.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'

/** What the CLI writes before a redrawn line: carriage return, clear to the end of the line. */
const REDRAW = '\r\u001b[K'
const escape = (s: string): string => s.replace(/[[\]\\^$.|?*+()]/g, '\\$&')

const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

t.test('live progress on a terminal, then the summary', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-tty-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const fifo = path.join(dir, 'events')
  t.equal(spawnSync('mkfifo', [fifo]).status, 0)
  const command = [process.execPath, cliBinary(), 'ship', collector.url, '--stream', 's'].map(quote).join(' ') + ` < ${quote(fifo)}`
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let screen = ''
  child.stdout.on('data', (b: Buffer) => { screen += b.toString() })
  child.stderr.on('data', (b: Buffer) => { screen += b.toString() })
  const exited = once(child, 'exit')
  const input = fs.createWriteStream(fifo)
  input.write(Array.from({ length: 10 }, (_, seq) => JSON.stringify({ seq }) + '\n').join(''))
  await collector.waitFor(10)
  // stdin stays open: the progress line is redrawn (\r, clear line) once a second meanwhile.
  while (!screen.includes(`${REDRAW}shoebox ship: shipped 10 events`)) await once(child.stdout, 'data')
  input.end()
  const [code] = await exited
  t.equal(code, 0, screen)
  t.match(screen, new RegExp(`${escape(REDRAW)}shoebox ship: shipped 10 events in 1 batch \\(\\d+(\\.\\d)? [k]?B\\) in [\\d.]+ s\\r?\\n$`), 'the live line cleared, then the summary')
  t.equal(collector.stored.length, 10)
})
