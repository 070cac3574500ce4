/**
 * put() flushes before the process exits: when the event loop runs dry, and
 * on SIGTERM (then the process still dies of the signal); a server failing
 * meanwhile loses nothing (pykronos's daemon thread lost both, spec §8).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { transpileTree } from '../transpile.js'
import { startCollector } from './fixtures/collector.js'

const build = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-put-child-'))
t.teardown(() => { fs.rmSync(build, { recursive: true, force: true }) })
const child = transpileTree(new URL('./fixtures/put-child.ts', import.meta.url).pathname, build)

function start (url: string, n: number, mode: 'exit' | 'term'): { proc: ReturnType<typeof spawn>, queued: Promise<unknown> } {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const proc = spawn(process.execPath, [child, JSON.stringify({ url, n, mode })], { stdio: ['ignore', 'pipe', 'inherit'], env })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  const queued = new Promise((resolve) => { proc.stdout?.setEncoding('utf8').on('data', (s: string) => { if (s.includes('queued')) resolve(s) }) })
  return { proc, queued }
}

t.test('a process that just ends sends what put() queued before it exits, through 503s', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.failNext(3, 503)
  const { proc } = start(collector.url, 50, 'exit')
  const [code] = await once(proc, 'exit')
  t.equal(code, 0)
  t.same(collector.stored.map((e) => e.event.seq), Array.from({ length: 50 }, (_, i) => i))
  t.equal(collector.requests, 4, 'three refusals, then the batch')
})

t.test('SIGTERM sends what put() queued, then the process dies of the signal', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.failNext(2, 503)
  const { proc, queued } = start(collector.url, 30, 'term')
  await queued
  t.equal(collector.requests, 0, 'nothing sent before the signal (an hour-long batch age)')
  proc.kill('SIGTERM')
  const [code, signal] = await once(proc, 'exit') as [number | null, string | null]
  t.ok(signal === 'SIGTERM' || code === 143, `died of the signal, or exited 143 where SIGTERM was ignored (${String(code)}, ${String(signal)})`)
  t.same(collector.stored.map((e) => e.event.seq), Array.from({ length: 30 }, (_, i) => i))
})
