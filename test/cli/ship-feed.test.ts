/** lib/cli/ship-feed.ts: every line read is accounted for when the shipper fails; what never reached it can be spilled. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { feedShipper, spillUnsent } from '../../lib/cli/ship-feed.js'
import { WholeLines } from '../../lib/cli/whole-lines.js'
import { ship } from '../../lib/events/ship.js'
import { stampNdjson } from '../../lib/events/stamp.js'
import { cli } from '../cli-run.js'
import { startCollector } from '../events/fixtures/collector.js'

t.test('WholeLines passes whole lines only; a cut input keeps its partial last line out', async (t) => {
  for (const cut of [false, true]) {
    const lines = new WholeLines()
    const out: Buffer[] = []
    lines.on('data', (b: Buffer) => out.push(b))
    for (const piece of ['{"a":1}\n{"b"', ':2}\n{"c":', '3}', '\n{"d":4']) lines.write(Buffer.from(piece))
    t.equal(lines.heldBytes, 6)
    lines.cut = cut
    lines.end()
    await new Promise((resolve) => lines.on('end', resolve))
    t.equal(Buffer.concat(out).toString(), '{"a":1}\n{"b":2}\n{"c":3}\n' + (cut ? '' : '{"d":4'), cut ? 'cut' : 'ended')
  }
})

t.test('a failed shipper without a spill: acknowledged + held + leftover = read', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.once('stored', () => { collector.refuseAll(503) })
  const input = Array.from({ length: 300 }, (_, seq) => JSON.stringify({ seq })).join('\n') + '\n'
  // 'block' with a small queue: most lines wait in the stages when the shipper gives up.
  const shipper = ship(collector.url, { queueEvents: 10, batchEvents: 10, retry: { attempts: 2, baseDelay: 1 }, exitHooks: false })
  const outcome = await feedShipper(Readable.from([Buffer.from(input)]), new WholeLines(), stampNdjson({ stream: 's' }), shipper)
  t.match(outcome.failure, { code: 'SHOEBOX_UNREACHABLE' })
  t.equal(outcome.read, 300)
  t.equal(outcome.acked, collector.stored.length)
  t.ok(outcome.held > 0, `${outcome.held} were in the shipper's memory`)
  t.ok(outcome.leftover.length > 0, `${outcome.leftover.length} never reached the shipper`)
  t.equal(outcome.acked + outcome.held + outcome.leftover.length, 300, 'every line read accounted for once')
})

t.test('a failed shipper with a spill: it spills what it held (and its queue\'s overflow), any leftover joins it, the next run sends each once', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.once('stored', () => { collector.refuseAll(503) })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-feed-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const input = Array.from({ length: 300 }, (_, seq) => JSON.stringify({ seq, text: 'ü✓' })).join('\n') + '\n'
  const shipper = ship(collector.url, { queueEvents: 10, batchEvents: 10, retry: { attempts: 2, baseDelay: 1 }, onOverflow: 'spill', spill: dir, exitHooks: false })
  const outcome = await feedShipper(Readable.from([Buffer.from(input)]), new WholeLines(), stampNdjson({ stream: 's' }), shipper)
  t.match(outcome.failure, { code: 'SHOEBOX_UNREACHABLE' })
  t.equal(outcome.read, 300)
  t.equal(outcome.held, 0, 'the shipper spilled what it held')
  t.equal(outcome.acked + shipper.stats().events.spilled + outcome.leftover.length, 300, 'every line read accounted for once')
  await spillUnsent(dir, undefined, outcome.leftover)
  const firstRun = collector.stored.length
  collector.refuseAll(undefined)
  const up = await cli(['ship', collector.url, '--stream', 's', '--spill', dir], '')
  t.equal(up.code, 0, up.stderr)
  t.equal(collector.stored.length, 300, `${firstRun} before, the rest from the spill`)
  t.same(collector.stored.map((e) => e.event.seq as number).sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i))
  t.ok(collector.stored.every((e) => e.event.text === 'ü✓'))
})
