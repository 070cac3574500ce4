/**
 * A write from a pipe that never ends (tail -f) runs for months, rolling a file
 * every --roll-age: what it keeps per sealed file must not pile up. The summary
 * kept every 'sealed' event (path, SHA-256, counts) to add up at the end, and
 * the live progress line added them all up again every second.
 */
import { PassThrough, Writable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import { RollingSink } from '../../lib/roll/rolling-sink.js'
import { tempDir } from '../temp-dir.js'
import { stepWallClockBack } from '../wall-clock.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const tick = async (ms = 0): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('write from an open pipe lets go of each sealed file\'s event', async (t) => {
  const dir = tempDir(t)
  let sealed = 0
  let collected = 0
  const registry = new FinalizationRegistry<undefined>(() => { collected++ })
  // The sink calls its 'sealed' listeners itself (awaited-listeners.ts): each listener the command adds is wrapped.
  const on = RollingSink.prototype.on
  const counting = function (this: RollingSink, name: string | symbol, listener: (...args: unknown[]) => void): RollingSink {
    if (name !== 'sealed') return on.call(this, name, listener)
    return on.call(this, name, (event: object) => {
      registry.register(event, undefined)
      sealed++
      listener(event)
    })
  }
  RollingSink.prototype.on = counting as typeof on
  t.teardown(() => { RollingSink.prototype.on = on })
  const stdin = new PassThrough()
  let stderr = ''
  const stdout = new Writable({ write (_c, _e, cb) { cb() } })
  const errs = new Writable({ write (c: Buffer, _e, cb) { stderr += c.toString(); cb() } })
  const run = main(['write', dir, '--roll-records', '1', '--fsync', 'never'], { stdin, stdout, stderr: errs })
  const files = 200
  for (let i = 0; i < files; i++) stdin.write(`{"i":${i}}\n`)
  for (let waited = 0; sealed < files - 1 && waited < 30_000; waited += 20) await tick(20)
  t.ok(sealed >= files - 1, `${sealed} files sealed while stdin is open`)
  for (let i = 0; i < 5 && collected < sealed / 2; i++) {
    gc()
    await tick(10)
  }
  t.ok(collected >= sealed / 2, `${collected} of ${sealed} sealed events let go while the run goes on`)
  stdin.end()
  t.equal(await run, 0, stderr)
  t.match(stderr, new RegExp(`^shoebox write: ${files} records, ${files} files sealed, \\d+ bytes, `), 'the summary still counts them')
})

t.test('the summary\'s time and rate are counted on the monotonic clock: a wall clock stepped back during the write is no 0.0 s at a million records/s', async (t) => {
  const { cli } = await import('../cli-run.js')
  const dir = tempDir(t)
  // Stepped back an hour after its first reading (NTP, a resumed VM); the files are named by the wall clock as ever.
  const restoreWallClock = stepWallClockBack(t)
  const input = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i })).join('\n') + '\n'
  const r = await cli(['write', dir, '--flush-interval', '0'], input)
  restoreWallClock()
  t.equal(r.code, 0)
  const m = /^shoebox write: 3000 records, 1 file sealed, \d+ bytes, (\d+\.\d) s, (\d+) records\/s into /.exec(r.stderr)
  t.ok(m !== null, r.stderr)
  // It said '0.0 s, 3000000 records/s' (the time taken, negative, was floored to 1 ms).
  t.ok(Number(m?.[2]) < 3_000_000, `the rate is the records over the time taken: ${r.stderr.trim()}`)
})
