/**
 * longTimeout() (lib/long-timeout.ts), the chain behind a roll age past a
 * timer's limit (README: a roll age past 24.8 days "waits the whole age"):
 * with a step of 20 ms standing in for MAX_TIMER_MS, a wait of five steps
 * fires once, and not before the whole wait (a chain that fired at its
 * first step, or one step short, would fire after 20 or 80 ms; timers never
 * fire 10 ms early), and a cancel mid-chain stops it.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { longTimeout } from '../lib/long-timeout.js'
import { ROOT, transpileTree } from './transpile.js'

const STEP = 20

/**
 * Resolves with the ms from the call to each firing, once the first has come (no deadline but tap's) and
 * `settle` ms more have passed, for a second to show. Not a fixed sleep from the call: each step's timer is
 * armed when the last fired, so a busy machine's late timers add up and a chain of five 20 ms steps could
 * fire after the sleep (4 of 10 runs under two busy loops).
 */
async function firings (wait: number, settle: number, maxStep = STEP): Promise<number[]> {
  const start = performance.now()
  const fired: number[] = []
  await new Promise<void>((resolve) => {
    longTimeout(() => { fired.push(performance.now() - start); resolve() }, wait, { maxStep })
  })
  await sleep(settle)
  return fired
}

t.test('a wait of five steps fires once, after the whole wait', async (t) => {
  const fired = await firings(5 * STEP, 3 * STEP)
  t.equal(fired.length, 1, 'once')
  t.ok(fired[0] >= 5 * STEP - 10, `at the end (${fired[0].toFixed(1)} ms), not at a step`)
})

t.test('a wait that is no whole number of steps: the last step is the rest', async (t) => {
  const fired = await firings(3 * STEP + 7, 3 * STEP)
  t.equal(fired.length, 1)
  t.ok(fired[0] >= 3 * STEP + 7 - 10, `${fired[0].toFixed(1)} ms`)
})

t.test('a wait within one step is one timer; 0 fires at once', async (t) => {
  t.equal((await firings(STEP - 5, STEP)).length, 1)
  t.equal((await firings(0, STEP)).length, 1)
})

t.test('cancelled mid-chain, after two steps: it never fires', async (t) => {
  let fired = 0
  const cancel = longTimeout(() => { fired++ }, 5 * STEP, { maxStep: STEP })
  await sleep(2.5 * STEP)
  cancel()
  await sleep(5 * STEP)
  t.equal(fired, 0)
})

t.test('cancelled after it fired: nothing happens', async (t) => {
  let fired = 0
  const cancel = longTimeout(() => { fired++ }, STEP, { maxStep: STEP })
  await sleep(2 * STEP)
  cancel()
  t.equal(fired, 1)
})

t.test('unref: a chain does not hold the event loop, at any step', async (t) => {
  // Each step's timer is a new one: each must be unref'd, or the process waits for the chain.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-long-timeout-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const entry = transpileTree(path.join(ROOT, 'lib', 'long-timeout.ts'), path.join(dir, 'pkg'))
  const script = `import { longTimeout } from ${JSON.stringify(pathToFileURL(entry).href)}
longTimeout(() => { console.log('fired') }, 60000, { maxStep: 10, unref: true })
setTimeout(() => { console.log('held') }, 50)
`
  fs.writeFileSync(path.join(dir, 'run.mjs'), script)
  const out = execFileSync(process.execPath, [path.join(dir, 'run.mjs')], { encoding: 'utf8', timeout: 30000 })
  t.equal(out, 'held\n', 'the process ended after the other timer, a minute before the chain would fire')
})
