/**
 * The spill's file names begin with the run's start time, and a restart
 * replays the files it finds in name order. A run whose wall clock was
 * stepped back (NTP, a resumed VM) named its files before those an earlier
 * run left: after a restart, its events went out before the earlier run's,
 * out of the order they were written. A run's files sort after every spill
 * file it finds at its start.
 */
import fs from 'node:fs'
import t from 'tap'
import { Spill } from '../../lib/events/ship-spill.js'
import { stepWallClockAhead } from '../wall-clock.js'

async function spillAndStop (dir: string, texts: string[]): Promise<void> {
  const spill = new Spill({ dir })
  await spill.open()
  for (const text of texts) await new Promise<void>((resolve, reject) => { spill.write(undefined, 's', text, undefined, (err) => { if (err != null) reject(err); else resolve() }) })
  await spill.close()
}

t.test('a run whose clock is behind the last run\'s names its files after that run\'s, and a restart replays them in the order written', async (t) => {
  const dir = t.testdir()
  // The first run's clock was an hour ahead (put right since, the clock steps back).
  const restore = stepWallClockAhead(t, 3_600_000)
  await spillAndStop(dir, ['first-1', 'first-2'])
  restore()
  await spillAndStop(dir, ['second-1'])
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox'))
  t.equal(names.length, 2, 'one file a run')

  const spill = new Spill({ dir })
  await spill.open()
  const texts: string[] = []
  for await (const event of spill.replay()) texts.push(event.text)
  await spill.close()
  t.same(texts, ['first-1', 'first-2', 'second-1'], 'the earlier run\'s events first')
})
