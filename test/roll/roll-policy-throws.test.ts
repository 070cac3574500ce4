/**
 * A custom roll policy whose check() throws: the sink fails with a typed
 * error naming the policy (it was an internal error with a stack trace), and
 * the records before the one it threw on are written, that one not, whether
 * the records come as objects or as encoded bytes (what `shoebox write`
 * gives). Before, the bytes of a chunk's records before it were dropped.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { encodeRecords, rollingSink, type RecordInput, type RollFile } from '../../lib/index.js'
import { cliProcess } from '../cli-run.js'
import { decodeFile, seqOf, tempNames } from '../fixtures-roll/util.js'

/** Throws when asked about a file of `n` records (after the n-th was counted). */
function throwsAt (n: number): { check: (file: RollFile) => boolean } {
  return { check: (file) => { if (file.records >= n) throw new Error('boom'); return false } }
}

function records (count: number): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({ metadata: {}, payload: { seq: i } }))
}

/** Write `items` one by one, end, and return the sink's error. */
async function failingWrite (dir: string, items: Array<RecordInput | Buffer>): Promise<Error & { code?: string }> {
  const sink = rollingSink({ dir, roll: { policy: throwsAt(20) } })
  await sink.started()
  const failed = new Promise<Error>((resolve) => { sink.on('error', resolve) })
  for (const item of items) sink.write(item)
  sink.end()
  return await failed
}

/** The records of the one unsealed file the failed sink left. */
function leftInTemp (t: Test, dir: string): number[] {
  const temps = tempNames(dir)
  t.equal(temps.length, 1, 'one unsealed file, for recovery')
  return decodeFile(path.join(dir, temps[0])).map((d) => seqOf(d.record))
}

for (const form of ['objects', 'encoded bytes'] as const) {
  t.test(`records as ${form}: a typed error, and the 19 records before the 20th written`, async (t) => {
    const dir = t.testdir()
    const items = form === 'objects' ? records(50) : [encodeRecords(records(50))]
    const err = await failingWrite(dir, items)
    t.equal(err.code, 'SHOEBOX_INVALID_OPTION')
    t.equal(err.message, 'option roll.policy: its check() threw: boom')
    t.same(leftInTemp(t, dir), Array.from({ length: 19 }, (_, i) => i))
  })
}

t.test('shoebox write --roll-policy that throws: one line, no stack, the records before it kept', async (t) => {
  const dir = t.testdir({ 'policy.mjs': 'export default { check (file) { if (file.records >= 20) throw new Error(\'boom\'); return false } }\n' })
  const out = path.join(dir, 'out')
  const input = Array.from({ length: 50 }, (_, i) => JSON.stringify({ seq: i })).join('\n') + '\n'
  const r = await cliProcess(['write', out, '--roll-policy', path.join(dir, 'policy.mjs')], input)
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox write: option roll\.policy: its check\(\) threw: boom; no file sealed in .*, 19 records in the unsealed file .* will be recovered/)
  t.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, 'one line')
  t.notMatch(r.stderr, /internal error|at Object\.check/)
  t.equal(fs.readdirSync(out).filter((n) => n.endsWith('.part')).length, 1)
})
