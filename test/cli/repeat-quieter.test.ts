import t from 'tap'
import { quietRepeats } from '../../lib/cli/repeat-quieter.js'

t.test('a line said again within the interval is held back, and counted the next time it is written', async (t) => {
  let now = 1_000_000
  const out: string[] = []
  const say = quietRepeats((line) => { out.push(line) }, 30_000, () => now)
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
