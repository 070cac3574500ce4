import t from 'tap'
import { quietRepeats } from '../../lib/cli/repeat-quieter.js'
import { stepWallClockBack } from '../wall-clock.js'

t.test('a line said again within the interval is held back, and counted the next time it is written', async (t) => {
  let now = 1_000_000
  const out: string[] = []
  const say = quietRepeats((line) => { out.push(line) }, 30_000, () => now, () => now)
  say('disk full')
  say('store down')
  for (let i = 0; i < 5; i++) {
    now += 1000
    say('disk full')
  }
  t.same(out, ['disk full', 'store down'], 'each line once within the interval, different lines each')
  now += 30_000
  say('disk full')
  t.same(out.at(-1), `disk full (5 more since ${new Date(1_000_000).toISOString()}, not shown)`, 'then again, with what was held back')
  now += 30_000
  say('disk full')
  t.same(out.at(-1), 'disk full', 'nothing held back since: the bare line')
})

t.test('the memory of lines is bounded: past 100 distinct lines it starts over', async (t) => {
  const out: string[] = []
  const say = quietRepeats((line) => { out.push(line) }, 30_000, () => 0)
  for (let i = 0; i < 100; i++) say(`line ${i}`)
  say('line 0')
  t.equal(out.length, 100, 'line 0 still remembered')
  say('line 100')
  say('line 0')
  t.equal(out.length, 102, 'the 101st line cleared the memory: line 0 is new again')
})

t.test('the interval is counted on the monotonic clock: a wall clock stepped back an hour does not hold the line for an hour', async (t) => {
  const restoreWallClock = stepWallClockBack(t)
  const out: string[] = []
  const say = quietRepeats((line) => { out.push(line) }, 50)
  say('disk full')
  say('disk full')
  await new Promise((resolve) => setTimeout(resolve, 100))
  say('disk full')
  restoreWallClock()
  // On Date.now(), the time since the line was shown came out an hour negative: held back until the clock came back.
  t.equal(out.length, 2, 'said again once the interval passed')
  t.match(out[1], /^disk full \(1 more since \d{4}-\d\d-\d\dT[\d:.]+Z, not shown\)$/)
})
