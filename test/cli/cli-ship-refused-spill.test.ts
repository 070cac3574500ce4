/**
 * shoebox ship --spill DIR and a --namespace the server lacks, then fixed:
 * the first run keeps every line it read in the spill and says so; the
 * second sets those aside in DIR/refused (one line), ships its own, and
 * exits 1; the documented way ships the set-aside lines to the namespace
 * meant. Counted in events the server received per namespace.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { decode } from '../../lib/format/decode.js'
import type { ShoeboxRecord } from '../../lib/record.js'
import { cli } from '../cli-run.js'
import { startCollector, type Collector } from '../events/fixtures/collector.js'
import { tempDir } from '../temp-dir.js'

async function recordsIn (dir: string): Promise<ShoeboxRecord[]> {
  const records: ShoeboxRecord[] = []
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox')).sort()) {
    await pipeline(fs.createReadStream(path.join(dir, name)), decode(), async (source: AsyncIterable<ShoeboxRecord>) => {
      for await (const record of source) records.push(record)
    })
  }
  return records
}

function storedIn (collector: Collector, namespace: string): number[] {
  return collector.stored.filter((e) => e.namespace === namespace).map((e) => e.event.seq as number).sort((a, b) => a - b)
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i)
const lines = (from: number, to: number): string => range(from, to).map((seq) => `{"seq":${seq}}\n`).join('')

t.test('--namespace mistyped with --spill, then fixed: every line kept, then set aside, none sent to another namespace unasked', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const dir = tempDir(t, 'shoebox-cli-refused-spill-')
  const refused = path.join(dir, 'refused')

  const run1 = await cli(['ship', collector.url, '--stream', 's', '--namespace', 'typo', '--spill', dir, '--queue', '100'], lines(0, 1000))
  t.equal(run1.code, 1)
  t.equal(run1.stderr, `shoebox ship: ${collector.url}/1.0/events/put: namespace typo, stream s: HTTP 400: NamespaceMissing('\`typo\` namespace is not configured',): ` +
    `the server refuses every put there, so nothing more was sent; the events not acknowledged are kept in the spill ${dir} for namespace typo ` +
    `(the next run with it sends them there; if the server still refuses namespace typo, it sets them aside in ${refused}); ` +
    `1000 lines read from stdin: 0 acknowledged, 1000 spilled to ${dir} (the next run with --spill ${dir} sends them)\n`)
  const kept = await recordsIn(dir)
  t.same(kept.map((r) => (JSON.parse(r.payload.toString()) as { seq: number }).seq).sort((a, b) => a - b), range(0, 1000), 'every line in the spill, once')
  t.same(collector.stored, [])

  const run2 = await cli(['ship', collector.url, '--stream', 's', '--namespace', 'namespace1', '--spill', dir], lines(5000, 5020))
  t.equal(run2.code, 1, 'exit 1: events were set aside')
  const said = run2.stderr.split('\n')
  t.equal(said[0], `shoebox ship: spill ${dir}: the server refuses namespace typo (${collector.url}/1.0/events/put: HTTP 400: NamespaceMissing('\`typo\` namespace is not configured',)): ` +
    `an earlier run's events for it are set aside in ${refused}, every one kept (to ship them elsewhere: shoebox read with --payload-only, piped to shoebox ship with the --namespace meant); the rest is shipped`)
  t.match(said[1], new RegExp(`^shoebox ship: shipped 20 events in .*; 1000 spilled by an earlier run set aside in ${refused.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(their namespace refused\\)$`))
  t.equal(said.length, 3, 'two lines')
  t.same(storedIn(collector, 'namespace1'), range(5000, 5020), 'run 2\'s 20 lines, in namespace1')
  t.equal(collector.stored.length, 20, 'nothing elsewhere')
  t.same(await recordsIn(dir), [], 'nothing left to replay')

  // The documented way to ship them to the namespace meant.
  const read = await cli(['read', path.join(refused, '*.shoebox'), '--payload-only'])
  t.equal(read.code, 0, read.stderr)
  const run3 = await cli(['ship', collector.url, '--stream', 's', '--namespace', 'namespace2'], read.stdout)
  t.equal(run3.code, 0, run3.stderr)
  t.same(storedIn(collector, 'namespace2'), range(0, 1000), 'run 1\'s 1000 lines, once each, where the user said')
  t.same(storedIn(collector, 'typo'), [])
  t.equal(collector.stored.length, 1020)
})
