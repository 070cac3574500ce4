/**
 * RollingSink.started(): resolves once the sink has started (directory made,
 * codec loaded, leftover files recovered) and never rejects, also when the
 * start fails (the stream errors instead). `shoebox write` feeds its input
 * from then on; records written before it are buffered, not lost.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { encodeRecords, rollingSink } from '../../lib/index.js'
import { hostName, tempName } from '../../lib/roll/names.js'
import { deadPid, readDir, tempDir } from '../fixtures-roll/util.js'

t.test('started() resolves after the start (a leftover recovered by then); records written before it are kept', async (t) => {
  const dir = path.join(tempDir(t), 'nested', 'out')
  fs.mkdirSync(dir, { recursive: true })
  // A dead writer's temporary file: recovered (and sealed) during the start.
  fs.writeFileSync(path.join(dir, tempName('a-000000.shoebox', hostName(), await deadPid())), encodeRecords([{ payload: 'left over' }]))
  const sink = rollingSink({ dir, template: 'b-{seq}.shoebox', flushInterval: 0 })
  const events: string[] = []
  sink.on('recover', () => events.push('recover'))
  sink.write({ payload: 'written before the start' })
  await sink.started()
  events.push('started')
  t.same(events, ['recover', 'started'], 'the leftover is recovered before started() resolves')
  t.equal(sink.recovered.length, 1)
  sink.end({ payload: 'after' })
  await once(sink, 'finish')
  t.same(readDir(dir).records.map((r) => r.payload.toString()), ['left over', 'written before the start', 'after'])
  t.equal(await sink.started(), undefined, 'still resolved afterwards')
})

t.test('started() resolves, and the stream errors, when the start fails', async (t) => {
  const file = path.join(tempDir(t), 'a-file')
  fs.writeFileSync(file, 'x')
  const sink = rollingSink({ dir: file, flushInterval: 0 })
  const failed = once(sink, 'error')
  await sink.started()
  const [err] = await failed as [NodeJS.ErrnoException]
  t.equal(err.code, 'SHOEBOX_IO', 'a file in the way of the directory')
})
