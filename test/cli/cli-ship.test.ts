/** shoebox ship: NDJSON on stdin, stamped, shipped; a summary line; exit codes. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import { decode } from '../../lib/format/decode.js'
import type { ShoeboxRecord } from '../../lib/record.js'
import { cli } from '../cli-run.js'
import { startCollector } from '../events/fixtures/collector.js'

t.test('ships every line, stamped, with the stream from a field and the time from another', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.failNext(2, 503, '0')
  const lines = Array.from({ length: 300 }, (_, seq) => JSON.stringify({ seq, kind: seq % 2 === 0 ? 'even' : 'odd', at: `2024-01-02T03:04:05.${String(seq).padStart(3, '0')}Z` }))
  const result = await cli(['ship', collector.url, '--stream-field', 'kind', '--time-field', 'at', '--namespace', 'namespace1'], lines.join('\r\n') + '\n\n')
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, /^shoebox ship: shipped 300 events in \d+ batch(es)? \(0\.\d MB\) in [\d.]+ s; 2 retries\n$/)
  t.equal(collector.stored.length, 300)
  t.same(new Set(collector.stored.map((e) => e.event.seq)).size, 300)
  const first = collector.stored.find((e) => e.event.seq === 0)
  t.match(first, { namespace: 'namespace1', stream: 'even', event: { '@time': 17041646450000000, '@id': /^[0-9a-f-]{36}$/, '@library': { name: 'shoebox' } } })
  // A stream's batches may overlap (maxInFlightPerStream), so the server may get them in another order.
  t.same(collector.stored.filter((e) => e.stream === 'odd').map((e) => e.event.seq as number).sort((a, b) => a - b), lines.map((_, i) => i).filter((i) => i % 2 === 1), 'each odd line once')
})

t.test('bad lines are named and counted, the good ones shipped; exit 1', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const input = ['{"a":1}', 'not json', '{"a":2,"@time":1.5}', '[3]', '{"a":4}'].join('\n')
  const result = await cli(['ship', collector.url, '--stream', 'things'], input)
  t.equal(result.code, 1)
  t.match(result.stderr, /line 2: .*\n.*line 3: .*@time.*\n.*line 4: .*\n.*shipped 2 events .*; 3 invalid\n$/)
  t.same(collector.stored.map((e) => e.event.a), [1, 4])
})

t.test('events the server rejects make exit 1', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const result = await cli(['ship', collector.url, '--stream', 's', '--namespace', 'missing'], '{"a":1}\n')
  t.equal(result.code, 1)
  t.match(result.stderr, /NamespaceMissing[\s\S]*1 rejected by the server/)
})

t.test('--spill: with the server down, the run gives up after --attempts; the next run ships the spill', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-cli-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const input = Array.from({ length: 100 }, (_, seq) => JSON.stringify({ seq })).join('\n')
  const down = await cli(['ship', collector.url, '--stream', 's', '--spill', dir, '--queue', '10', '--attempts', '2'], input)
  t.equal(down.code, 1)
  t.match(down.stderr, /gave up after 2 tries.*spilled events stay in/)
  // What the run left is on disk and sealed when it returns (a replay's rotation too), however
  // slow the spill's fsyncs were. The 10 queued in memory are reported not acknowledged; after
  // them come the spilled events, without a gap (lines still inside the stamper when the shipper
  // gave up never reached it: how many depends on the load).
  const sealed = fs.readdirSync(dir).filter((name) => name.endsWith('.shoebox') && !name.startsWith('.'))
  const onDisk = (await Promise.all(sealed.sort().map(async (name) => await spilledSeqs(path.join(dir, name))))).flat()
  t.ok(onDisk.length >= 1, `${onDisk.length} spilled`)
  t.same(onDisk, Array.from({ length: onDisk.length }, (_, i) => 10 + i), 'the events after the queue\'s 10, sealed, in order')
  await collector.start()
  const up = await cli(['ship', collector.url, '--stream', 's', '--spill', dir], '')
  t.equal(up.code, 0, up.stderr)
  t.match(up.stderr, new RegExp(`shipped ${onDisk.length} events.*0 spilled, ${onDisk.length} replayed`))
  t.same(collector.stored.map((e) => e.event.seq as number), onDisk, 'the spill, once each, in order')
  t.same(fs.readdirSync(dir), [], 'replayed files and sidecars removed')
})

/** The `seq` of each event in a spill file. */
async function spilledSeqs (file: string): Promise<number[]> {
  const out: number[] = []
  for await (const record of fs.createReadStream(file).pipe(decode()) as AsyncIterable<ShoeboxRecord>) out.push((JSON.parse(record.payload.toString('utf8')) as { seq: number }).seq)
  return out
}

t.test('usage mistakes exit 2', async (t) => {
  for (const args of [['ship'], ['ship', 'http://127.0.0.1:1'], ['ship', 'http://127.0.0.1:1', '--stream', 's', '--on-overflow', 'later'],
    ['ship', 'http://127.0.0.1:1', '--stream', 's', '--on-overflow', 'spill'], ['ship', 'http://127.0.0.1:1', '--stream', 's', '--queue', '0'],
    ['ship', 'ftp://x', '--stream', 's']]) {
    const result = await cli(args)
    t.equal(result.code, args[1] === 'ftp://x' ? 1 : 2, args.join(' '))
  }
  const help = await cli(['ship', '--help'])
  t.match(help.stdout.toString(), /Usage: shoebox ship URL/)
})

t.test('stdin split at every byte (multi-byte characters too): every event intact', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const events = Array.from({ length: 40 }, (_, seq) => ({ seq, text: `héllo wörld ${'✓'.repeat(seq % 5)}` }))
  const bytes = Buffer.from(events.map((e) => JSON.stringify(e)).join('\n'))
  const chunks = Array.from(bytes, (b) => Buffer.from([b]))
  let stderr = ''
  const code = await main(['ship', collector.url, '--stream', 's'], {
    stdin: Readable.from(chunks),
    stdout: new Writable({ write (_c, _e, cb) { cb() } }),
    stderr: new Writable({ write (c: Buffer, _e, cb) { stderr += c.toString(); cb() } })
  })
  t.equal(code, 0, stderr)
  t.same(collector.stored.map((e) => ({ seq: e.event.seq, text: e.event.text })), events)
})
