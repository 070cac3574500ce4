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
    ['full-block', false, false], ['timer', false, true], ['policy', true, false], ['deadline', true, true], ['end', true, false], ['refused', false, false], ['listener-failed', true, false]
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

/**
 * addRun() must decide exactly as add() asked after each record: the same cuts, after the same
 * records, with the same file state. Two planners fed the same records, one each way, over
 * policies that batch (built-in, combined) and one that does not (a user's, counting its calls).
 */
t.test('addRun: the same cuts and file state as add() after every record', async (t) => {
  const policies: Array<[string, Parameters<typeof rollPolicy>[0]]> = [
    ['none', undefined],
    ['size', { size: 5000 }],
    ['records', { records: 37 }],
    ['size and records', { size: 9000, records: 50 }],
    ['age (fixed now: never)', { age: '1h' }]
  ]
  // Record sizes: small, large, and a run of equal ones, so cuts fall at every kind of boundary.
  const sizes: number[] = []
  let seed = 7
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    sizes.push(i % 97 === 0 ? 900 + (seed % 400) : 1 + (seed % 120))
  }
  for (const gzip of [undefined, 6]) {
    for (const [name, roll] of policies) {
      for (const chunk of [1, 2, 13, 321, 2000]) {
        const per = planner(roll, 700, gzip)
        const batched = planner(roll, 700, gzip)
        const seen: { per: string[], batched: string[] } = { per: [], batched: [] }
        const state = (p: RollPlanner): string => {
          const f = p.file
          return f === null ? 'closed' : `${f.name} ${f.records} ${f.rawBytes} ${f.bytes} ${p.blockBytes}`
        }
        // The per-record way (as the sink asked before addRun: a ratio sample first, when one is due).
        for (let i = 0; i < sizes.length; i++) {
          const file = per.fileAt(0)
          if (per.needsRatio(sizes[i])) per.seedRatio(Buffer.alloc(sizes[i], 'a'))
          const reason = per.add(file, sizes[i], 1)
          if (reason !== null) {
            const cut = per.cut(reason)
            seen.per.push(`${i} ${reason} ${cut?.records ?? -1} ${state(per)}`)
            // The writing stage reports back at some point: the ratio changes between chunks, not within one.
            if (gzip !== undefined && cut !== null) per.written(cut.file, 300, 100)
          }
        }
        // addRun over chunks of `chunk` records, each with its own record ends, as the sink sees them.
        const run = { records: 0, reason: null as 'policy' | 'full-block' | null }
        let empty = 0
        for (let c = 0; c < sizes.length; c += chunk) {
          const ends: number[] = []
          let end = 0
          for (const size of sizes.slice(c, c + chunk)) ends.push(end += size)
          let i = 0
          let start = 0
          while (i < ends.length) {
            const file = batched.fileAt(0)
            if (!batched.batches && batched.needsRatio(ends[i] - start)) batched.seedRatio(Buffer.alloc(ends[i] - start, 'a'))
            batched.addRun(file, ends, i, batched.batches ? ends.length : i + 1, start, 1, run)
            if (run.records === 0) empty++
            i += Math.max(1, run.records)
            start = ends[i - 1]
            if (run.reason !== null) {
              const cut = batched.cut(run.reason)
              seen.batched.push(`${c + i - 1} ${run.reason} ${cut?.records ?? -1} ${state(batched)}`)
              if (gzip !== undefined && cut !== null) batched.written(cut.file, 300, 100)
            }
          }
        }
        t.equal(empty, 0, 'every call counts at least one record')
        t.same(seen.batched, seen.per, `${name}, gzip ${String(gzip)}, ${chunk} records a chunk: the same cuts`)
        t.equal(state(batched), state(per), `${name}, gzip ${String(gzip)}, ${chunk} records a chunk: the same state after`)
        t.ok(seen.per.length > (name === 'none' ? 10 : 20), 'cuts happened')
      }
    }
  }
})

t.test('addRun: a policy of the user\'s is asked after every record, once each, and the planner does not batch', async (t) => {
  const asked: number[] = []
  const p = new RollPlanner({ template: 'f-{seq}.shoebox', policy: { check: (file) => { asked.push(file.records); return file.records === 3 } }, blockSize: 1 << 20, gzipLevel: undefined })
  t.equal(p.batches, false)
  const run = { records: 0, reason: null as 'policy' | 'full-block' | null }
  p.addRun(p.fileAt(0), [10, 20, 30, 40, 50], 0, 5, 0, 1, run)
  t.same(run, { records: 3, reason: 'policy' }, 'stops at the record that fired it')
  t.same(asked, [1, 2, 3], 'asked after records 1, 2 and 3, in order, once each')
  t.equal(planner({ size: 10 }).batches, true, 'built-in policies batch')
  t.equal(planner({ size: 10 }, 1000, 6).batches, false, 'not before the ratio is seeded, with compression')
})

t.test('built-in policies are frozen, and a combination with a user\'s policy is not batched', async (t) => {
  const { sizePolicy, anyPolicy, isMonotone } = await import('../../lib/roll/policies.js')
  const size = sizePolicy(10)
  t.ok(Object.isFrozen(size))
  t.ok(isMonotone(anyPolicy([size, sizePolicy(20)])))
  const list = [size]
  const any = anyPolicy(list)
  list.push({ check: () => true })
  t.ok(isMonotone(any), 'the list is copied: a policy pushed later is not part of it')
  t.notOk(isMonotone(anyPolicy([size, { check: () => false }])))
})
