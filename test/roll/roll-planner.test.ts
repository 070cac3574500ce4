/**
 * The rolling sink's planner on its own (no files, no timers): which cut each
 * record, tick or end() asks for, and why; what a cut carries; and the gzip
 * size estimate it learns from what the writing stage reports.
 */
import t from 'tap'
import { rollPolicy } from '../../lib/roll/policies.js'
import { isTimed, RollPlanner, type CutReason } from '../../lib/roll/planner.js'

function planner (roll: Parameters<typeof rollPolicy>[0], blockSize = 1000, gzipLevel?: number): RollPlanner {
  return new RollPlanner({ template: 'f-{seq}.shoebox', policy: rollPolicy(roll), blockSize, gzipLevel })
}

t.test('reasons: full-block and policy after records, timer and end from outside; which seal', async (t) => {
  const p = planner({ records: 5 }, 250)
  const seen: Array<[number, string | null, number | undefined, boolean | undefined]> = []
  const file = p.fileAt(0)
  t.equal(file.name, 'f-000000.shoebox')
  for (let i = 1; i <= 5; i++) {
    const reason = p.add(file, 100, i)
    // As the sink does: cut at once when asked.
    const cut = reason === null ? null : p.cut(reason)
    seen.push([i, reason, cut?.records, cut?.seal])
  }
  t.same(seen, [
    [1, null, undefined, undefined],
    [2, null, undefined, undefined],
    [3, 'full-block', 3, false],
    [4, null, undefined, undefined],
    [5, 'policy', 2, true]
  ], 'a block is cut at 300 raw bytes (3 records), the file at 5 records (the last 2 in its last block)')
  t.equal(p.file, null, 'a policy cut closes the file')
  t.equal(p.blockBytes, 0)
  t.equal(p.cut('end'), null, 'nothing to cut without a file')
  t.equal(p.fileAt(10).name, 'f-000001.shoebox', 'the next file gets the next sequence number')
  const expectations: Array<[CutReason, boolean, boolean]> = [
    ['full-block', false, false], ['timer', false, true], ['policy', true, false], ['deadline', true, true], ['end', true, false], ['refused', false, false]
  ]
  for (const [reason, seals, timed] of expectations) {
    const q = planner(undefined)
    q.fileAt(0)
    t.equal(q.cut(reason)?.seal, seals, `${reason} ${seals ? 'seals' : 'does not seal'}`)
    t.equal(isTimed(reason), timed, `${reason} ${timed ? 'is' : 'is not'} a clock cut`)
  }
})

t.test('deadline: an aligned age gives the file its deadline; past it, the next record must seal first', async (t) => {
  const p = planner({ age: '1m', align: true })
  const file = p.fileAt(Date.UTC(2030, 0, 1, 10, 0, 50))
  t.equal(file.deadline, Date.UTC(2030, 0, 1, 10, 1, 0))
  t.equal(p.pastDeadline(Date.UTC(2030, 0, 1, 10, 0, 59, 999)), false)
  t.equal(p.pastDeadline(Date.UTC(2030, 0, 1, 10, 1, 0)), true)
  t.equal(p.add(file, 10, Date.UTC(2030, 0, 1, 10, 1, 0)), 'policy', 'a record at the deadline fires the policy itself')
})

t.test('gzip: the size a policy sees is what is on disk plus the rest at the ratio learnt', async (t) => {
  const p = planner({ size: 1000 }, 1 << 20, 6)
  const file = p.fileAt(0)
  t.equal(p.add(file, 400, 1), null)
  t.equal(file.bytes, 400, 'before any ratio: raw size')
  p.written(file, 400, 100)
  t.equal(p.add(file, 2000, 2), null, '100 on disk + 2000 at 1:4 = 600')
  t.equal(file.bytes, 600)
  t.equal(p.add(file, 1600, 3), 'policy', '100 + 3600 / 4 = 1000: the size policy fires')
})
