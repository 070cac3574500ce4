/** shoebox ship: NDJSON on stdin, stamped, shipped; a summary line; exit codes. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Readable, Writable } from 'node:stream'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import { decode } from '../../lib/format/decode.js'
import type { ShoeboxRecord } from '../../lib/record.js'
import { cli } from '../cli-run.js'
import { startCollector } from '../events/fixtures/collector.js'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../temp-dir.js'
import { escapeRegExp } from '../helpers.js'

/** The binary for the tests that need a process (signals, a pipe left open), transpiled once: run through the TypeScript loader, each child spent seconds compiling. */
const bin = cliBinary()

t.test('ships every line, stamped, with the stream from a field and the time from another', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.failNext(2, 503, '0')
  const lines = Array.from({ length: 300 }, (_, seq) => JSON.stringify({ seq, kind: seq % 2 === 0 ? 'even' : 'odd', at: `2024-01-02T03:04:05.${String(seq).padStart(3, '0')}Z` }))
  const result = await cli(['ship', collector.url, '--stream-field', 'kind', '--time-field', 'at', '--namespace', 'namespace1'], lines.join('\r\n') + '\n\n')
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, /^shoebox ship: shipped 300 events in \d+ batch(es)? \(\d+\.\d kB\) in [\d.]+ s; 2 retries\n$/)
  t.equal(collector.stored.length, 300)
  t.same(new Set(collector.stored.map((e) => e.event.seq)).size, 300)
  const first = collector.stored.find((e) => e.event.seq === 0)
  t.match(first, { namespace: 'namespace1', stream: 'even', event: { '@time': 17041646450000000, '@id': /^[0-9a-f-]{36}$/, '@library': { name: 'shoebox' } } })
  // A stream's batches may overlap (maxInFlightPerStream), so the server may get them in another order.
  t.same(collector.stored.filter((e) => e.stream === 'odd').map((e) => e.event.seq as number).sort((a, b) => a - b), lines.map((_, i) => i).filter((i) => i % 2 === 1), 'each odd line once')
})

t.test('a body limit below the batch (413): every line shipped, the summary names the splits and the limit learnt', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.maxBody = 2000
  const lines = Array.from({ length: 10 }, (_, seq) => JSON.stringify({ seq, pad: 'x'.repeat(500) }))
  const result = await cli(['ship', collector.url, '--stream', 's'], lines.join('\n') + '\n')
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, /^shoebox ship: shipped 10 events in \d+ batches \(\d+(\.\d)? k?B\) in [\d.]+ s; [1-9]\d* batch(es)? split \(413 too large; now at most \d+ bytes\)\n$/)
  t.same(collector.stored.map((e) => e.event.seq as number).sort((a, b) => a - b), lines.map((_, seq) => seq), 'each line once')
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
  const result = await cli(['ship', collector.url, '--stream', 's'], '{"a":1}\n{"@time":1.5}\n')
  t.equal(result.code, 1)
  t.match(result.stderr, /line 2: .*@time[\s\S]*shipped 1 event .*1 invalid\n$/)
})

t.test('a namespace the server lacks: the puts in flight, then one line naming the URL, namespace, stream and the server\'s words, and what became of each line', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  // 40 batches of 500: more than the 8 in flight at once.
  const lines = Array.from({ length: 20_000 }, (_, i) => `{"seq":${i}}\n`).join('')
  const result = await cli(['ship', collector.url, '--stream', 's', '--namespace', 'missing'], lines)
  t.equal(result.code, 1)
  t.ok(collector.requests <= 8, `only the puts in flight when the refusal came (${collector.requests}), not each batch of the input refused in turn`)
  const read = /(\d+) lines read from stdin/.exec(result.stderr)?.[1] ?? ''
  t.equal(result.stderr, `shoebox ship: ${collector.url}/1.0/events/put: namespace missing, stream s: HTTP 400: NamespaceMissing('\`missing\` namespace is not configured',): ` +
    `the server refuses every put there, so nothing more was sent; the events not acknowledged are not stored; ${read} lines read from stdin: 0 acknowledged, ` +
    `${read} not stored (refused there, or never sent; not kept: send them again once the URL and --namespace are right)\n`)
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
  // slow the spill's fsyncs were: every line, once. The shipper's own spill comes first, in
  // order; after it, what it held in memory and what the CLI's stages still held.
  const sealed = fs.readdirSync(dir).filter((name) => name.endsWith('.shoebox') && !name.startsWith('.'))
  const onDisk = (await Promise.all(sealed.sort().map(async (name) => await spilledSeqs(path.join(dir, name))))).flat()
  t.same([...onDisk].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i), 'every line spilled, once')
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

t.test('--spill DIR another shipper is using (it replays it now) is refused, naming the directory and the process: both would send the spilled events', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = tempDir(t, 'shoebox-ship-cli-')
  const down = await cli(['ship', collector.url, '--stream', 's', '--spill', dir, '--attempts', '1'], '{"seq":1}\n')
  t.equal(down.code, 1, down.stderr)
  await collector.start()
  // A run that replays the spill and stays (its stdin a pipe left open).
  const first = spawnShip(collector.url, ['--spill', dir])
  t.teardown(() => { first.child.kill('SIGKILL') })
  const deadline = Date.now() + 60_000
  while (collector.stored.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(collector.stored.length, 1, 'the first run replayed the spill')
  const second = await cli(['ship', collector.url, '--stream', 's', '--spill', dir], '{"seq":2}\n')
  t.equal(second.code, 1)
  t.match(second.stderr, new RegExp(`^shoebox ship: spill directory ${escapeRegExp(dir)} is in use by process ${first.child.pid ?? 0} \\(.*\\); nothing read from stdin, nothing shipped\n$`))
  t.equal(second.stderr.split('\n').length, 2, 'one line')
  t.equal(collector.stored.length, 1, 'nothing sent twice, nothing of the second run sent')
  const exited = once(first.child, 'exit')
  first.child.stdin.end()
  const [code] = await exited
  t.equal(code, 0, first.stderr())
  t.same(fs.readdirSync(dir), [], 'the first run left nothing behind')
  const third = await cli(['ship', collector.url, '--stream', 's', '--spill', dir], '{"seq":3}\n')
  t.equal(third.code, 0, 'a run after it takes the directory')
  t.same(collector.stored.map((e) => e.event.seq), [1, 3])
})

t.test('a --spill DIR that cannot be opened (a file in the way) fails before stdin is read: one line, nothing said to be unconfirmed', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const file = path.join(tempDir(t, 'shoebox-ship-cli-'), 'file')
  fs.writeFileSync(file, '')
  const r = await cli(['ship', collector.url, '--stream', 's', '--spill', file], '{"seq":1}\n{"seq":2}\n')
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox ship: cannot create directory ${file}: a file is in the way (EEXIST); nothing read from stdin, nothing shipped\n`)
  t.equal(collector.requests, 0)
})

t.test('a damaged spill file: the events around the damage are shipped, the damage named (file, byte) once, exit 1; it no longer blocks every run', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = tempDir(t, 'shoebox-ship-cli-')
  const input = Array.from({ length: 100 }, (_, seq) => JSON.stringify({ seq, pad: 'x'.repeat(200) })).join('\n')
  const down = await cli(['ship', collector.url, '--stream', 's', '--spill', dir, '--attempts', '1'], input)
  t.equal(down.code, 1, down.stderr)
  const [name] = fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox'))
  const file = path.join(dir, name)
  const bytes = fs.readFileSync(file)
  bytes[Math.floor(bytes.length / 2)] ^= 0xff
  fs.writeFileSync(file, bytes)
  await collector.start()
  const r = await cli(['ship', collector.url, '--stream', 's', '--spill', dir], '')
  t.equal(r.code, 1, r.stderr)
  t.match(r.stderr, new RegExp(`^shoebox ship: spill file ${escapeRegExp(file)}: damaged at byte \\d+ \\([^)]*\\), \\d+ bytes skipped: the events in them are lost; the rest of the spill is shipped\n`))
  const seqs = collector.stored.map((e) => e.event.seq as number)
  t.ok(seqs.length > 50 && seqs.length < 100, `${seqs.length} events shipped`)
  t.equal(new Set(seqs).size, seqs.length, 'each once')
  t.same(fs.readdirSync(dir), [], 'the spill is settled: the next run does not meet the damage again')
})

t.test('usage mistakes exit 2', async (t) => {
  for (const args of [['ship'], ['ship', 'http://127.0.0.1:1'], ['ship', 'http://127.0.0.1:1', '--stream', 's', '--on-overflow', 'later'],
    ['ship', 'http://127.0.0.1:1', '--stream', 's', '--on-overflow', 'spill'], ['ship', 'http://127.0.0.1:1', '--stream', 's', '--queue', '0'],
    ['ship', 'ftp://x', '--stream', 's']]) {
    const result = await cli(args)
    t.equal(result.code, 2, args.join(' '))
  }
  const help = await cli(['ship', '--help'])
  t.match(help.stdout.toString(), /Usage: shoebox ship URL/)
})

t.test('--time-unit without --time-field is a usage error: @time is read as kronos ticks whatever it says (an @time in ms was shipped as 1970)', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const r = await cli(['ship', collector.url, '--stream', 's', '--time-unit', 'ms'], '{"@time":1700000000000}\n')
  t.equal(r.code, 2)
  t.equal(r.stderr.split('\n')[0], 'shoebox ship: --time-unit goes with --time-field F (what a number in that field counts); @time is always kronos time (100 ns ticks)')
  t.equal(collector.requests, 0, 'nothing shipped')
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

/** The real binary shipping to `url` (stream s), its stdin a pipe left open, its stderr collected. */
function spawnShip (url: string, args: string[] = []): { child: ChildProcessWithoutNullStreams, stderr: () => string } {
  const child = spawn(process.execPath, [bin, 'ship', url, '--stream', 's', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: cliEnv() })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdin.on('error', () => {})
  return { child, stderr: () => stderr }
}

/** The line numbers a give-up report names: read, acknowledged, spilled, unconfirmed (not kept). */
function giveUpCounts (stderr: string): { read: number, acked: number, spilled: number, unconfirmed: number } {
  const line = stderr.split('\n').find((l) => / lines? read from stdin/.test(l))
  if (line === undefined) throw new Error(`no give-up report in: ${stderr}`)
  const count = (re: RegExp): number => Number(re.exec(line)?.[1] ?? 0)
  return { read: count(/(\d+) lines? read/), acked: count(/(\d+) acknowledged/), spilled: count(/(\d+) spilled/), unconfirmed: count(/(\d+) unconfirmed \(not kept; the server may or may not have them\)/) }
}

t.test('gives up (block): the error line counts every line read as acknowledged or unconfirmed, never both', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  // The first batch is stored, then the server answers 503 to everything.
  collector.once('stored', () => { collector.refuseAll(503) })
  const input = Array.from({ length: 300 }, (_, seq) => JSON.stringify({ seq })).join('\n') + '\n'
  const result = await cli(['ship', collector.url, '--stream', 's', '--queue', '10', '--attempts', '2'], input)
  t.equal(result.code, 1)
  const counts = giveUpCounts(result.stderr)
  t.equal(counts.read, 300, result.stderr)
  t.equal(counts.acked, collector.stored.length, 'acknowledged as the server says')
  t.equal(counts.acked + counts.unconfirmed, 300, 'the rest named as unconfirmed')
  t.equal(counts.spilled, 0)
})

t.test('gives up with --spill: every line read is acknowledged or spilled, and the next run ships the spill once', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.once('stored', () => { collector.refuseAll(503) })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-cli-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const input = Array.from({ length: 300 }, (_, seq) => JSON.stringify({ seq })).join('\n') + '\n'
  const down = await cli(['ship', collector.url, '--stream', 's', '--spill', dir, '--queue', '10', '--attempts', '2'], input)
  t.equal(down.code, 1)
  const counts = giveUpCounts(down.stderr)
  t.equal(counts.read, 300, down.stderr)
  t.equal(counts.acked, collector.stored.length)
  t.equal(counts.unconfirmed, 0, 'nothing read is lost')
  t.equal(counts.acked + counts.spilled, 300, 'the shipper spilled what it held in memory itself')
  const acked = collector.stored.length
  collector.refuseAll(undefined)
  const up = await cli(['ship', collector.url, '--stream', 's', '--spill', dir], '')
  t.equal(up.code, 0, up.stderr)
  const seqs = collector.stored.map((e) => e.event.seq as number)
  t.equal(seqs.length, 300, `${acked} in the first run, the rest replayed`)
  t.same([...seqs].sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i), 'every line once')
  t.same(fs.readdirSync(dir), [], 'the spill is empty')
})

t.test('gives up with --spill while ending (stdin all read): the queue goes to the spill too', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.refuseAll(503)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-cli-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const input = Array.from({ length: 5 }, (_, seq) => JSON.stringify({ seq, text: 'ünïcode ✓' })).join('\n')
  const down = await cli(['ship', collector.url, '--stream', 's', '--spill', dir, '--attempts', '2'], input)
  t.equal(down.code, 1)
  t.match(giveUpCounts(down.stderr), { read: 5, acked: 0, spilled: 5, unconfirmed: 0 })
  collector.refuseAll(undefined)
  const up = await cli(['ship', collector.url, '--stream', 's', '--spill', dir], '')
  t.equal(up.code, 0, up.stderr)
  t.same(collector.stored.map((e) => e.event), Array.from({ length: 5 }, (_, seq) => ({ seq, text: 'ünïcode ✓', '@time': collector.stored[seq].event['@time'], '@id': collector.stored[seq].event['@id'], '@library': collector.stored[seq].event['@library'] })))
})

t.test('gives up while stdin stays open: stops reading, exits, and names the line it stopped in', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.refuseAll(503)
  const spill = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-cli-'))
  t.teardown(() => { fs.rmSync(spill, { recursive: true, force: true }) })
  for (const spillArgs of [[], ['--spill', spill, '--attempts', '1']]) {
    // 50 whole lines and the start of another; then nothing, and no end (a `tail -f`).
    const stdin = new Readable({ read () {} })
    stdin.push(Array.from({ length: 50 }, (_, seq) => JSON.stringify({ seq }) + '\n').join('') + '{"seq": 5')
    let stderr = ''
    const code = await main(['ship', collector.url, '--stream', 's', '--attempts', '1', ...spillArgs], {
      stdin,
      stdout: new Writable({ write (_c, _e, cb) { cb() } }),
      stderr: new Writable({ write (c: Buffer, _e, cb) { stderr += c.toString(); cb() } })
    })
    const what = spillArgs.length === 0 ? 'no spill' : '--spill'
    t.equal(code, 1, stderr)
    t.match(giveUpCounts(stderr), spillArgs.length === 0 ? { read: 50, acked: 0, unconfirmed: 50 } : { read: 50, acked: 0, spilled: 50 }, what)
    // Not "an incomplete last line": its end was never read, as nothing after it was.
    t.match(stderr, /; stdin read no further: the line it was reading \(9 bytes of it read\) not stored\n$/, what)
    t.notMatch(stderr, /incomplete/, what)
    t.ok(stdin.destroyed, `${what}: stdin is no longer read`)
  }
})

t.test('--time-field with --time-unit ms and s: @time in kronos ticks, the field kept', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  for (const [unit, value, ticks] of [['ms', '1733215445123', '17332154451230000'], ['s', '1733215445', '17332154450000000'], ['kronos', '17332154451234567', '17332154451234567']] as const) {
    const before = collector.stored.length
    const result = await cli(['ship', collector.url, '--stream', unit, '--time-field', 'at', '--time-unit', unit], `{"at": ${value}, "unit": "${unit}"}\n`)
    t.equal(result.code, 0, result.stderr)
    const body = collector.bodies[collector.bodies.length - 1]
    t.match(body, new RegExp(`"@time": ?${ticks}[,}]`), `--time-unit ${unit}: @time exact on the wire`)
    // (the collector parses with JSON.parse: compared as the same double)
    t.match(collector.stored[before].event, { at: Number(value), unit })
  }
})

t.test('--on-overflow drop: a full queue drops and counts; exit 0, the summary says how many', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const input = Array.from({ length: 300 }, (_, seq) => JSON.stringify({ seq })).join('\n')
  const result = await cli(['ship', collector.url, '--stream', 's', '--queue', '10', '--on-overflow', 'drop'], input)
  t.equal(result.code, 0, result.stderr)
  const m = /shipped (\d+) events .*; (\d+) dropped \(queue full\)\n$/.exec(result.stderr)
  t.ok(m !== null, result.stderr)
  t.equal(Number(m?.[1]) + Number(m?.[2]), 300, 'every line shipped or counted as dropped')
  t.equal(collector.stored.length, Number(m?.[1]))
})

t.test('the real binary gives up with its stdin pipe still open: it exits, naming what it read', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.refuseAll(503)
  const ship = spawnShip(collector.url, ['--attempts', '1'])
  const child = ship.child
  // Lines, and no end: the writer (a `tail -f`) is still there when the shipper gives up.
  child.stdin.write(Array.from({ length: 20 }, (_, seq) => JSON.stringify({ seq }) + '\n').join(''))
  const [code] = await once(child, 'exit')
  child.stdin.destroy()
  t.equal(code, 1, ship.stderr())
  t.match(giveUpCounts(ship.stderr()), { read: 20, acked: 0, unconfirmed: 20 })
})

t.test('a second signal quits at once, while the lines read still wait for a server that refuses them', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.refuseAll(503)
  const ship = spawnShip(collector.url)
  const child = ship.child
  child.stdin.write('{"seq":1}\n')
  const deadline = Date.now() + 60_000
  while (collector.requests === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const exited = once(child, 'exit')
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  child.kill('SIGINT')
  // The first signal only ends the input: the shipper goes on trying (503 after 503) until the second. Shown by
  // a request that arrives once it has said it took the signal (not by a fixed wait, which under load passed
  // a shipper that was exiting all the same).
  while (!/SIGINT: stopped reading stdin/.test(ship.stderr()) && running()) await new Promise((resolve) => setTimeout(resolve, 20))
  const tried = collector.requests
  while (collector.requests === tried && running()) await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(collector.requests > tried && running(), `after one SIGINT it still tries to ship what it read (${ship.stderr().trim()})`)
  child.kill('SIGINT')
  const [code, signal] = await exited
  child.stdin.destroy()
  t.same([code, signal], [null, 'SIGINT'], 'the second SIGINT ends it, by the signal')
  t.equal(collector.stored.length, 0)
})

t.test('a server that keeps failing is noted after 5 s of monotonic time: a wall clock stepped back meanwhile does not silence the note', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.refuseAll(503)
  // A preload that steps the wall clock back an hour half a second into the run (NTP, a resumed VM).
  const preload = path.join(tempDir(t), 'step-back.mjs')
  fs.writeFileSync(preload, 'const wall = Date.now\nDate.now = () => wall() - (performance.now() > 500 ? 3_600_000 : 0)\n')
  const child = spawn(process.execPath, ['--import', pathToFileURL(preload).href, bin, 'ship', collector.url, '--stream', 's'], { stdio: ['pipe', 'pipe', 'pipe'], env: cliEnv() })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdin.on('error', () => {})
  child.stdin.end('{"seq":1}\n')
  const deadline = performance.now() + 20_000
  while (!/still trying/.test(stderr) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  // On Date.now(), the time failing came out negative from the step: no note until the wall clock came back, an hour later.
  t.match(stderr, /no batch acknowledged for \d+ s, still trying/, 'the note came, the clock stepped back')
  t.notMatch(stderr, /for -\d+ s/)
})

t.test('a server that keeps failing: a note on stderr while it keeps trying, and another after a first signal', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.refuseAll(503)
  const ship = spawnShip(collector.url)
  const child = ship.child
  child.stdin.end('{"seq":1}\n')
  const waitFor = async (re: RegExp): Promise<void> => {
    const deadline = Date.now() + 60_000
    while (!re.test(ship.stderr()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  // Not silent until it gives up (by default never): after 5 s of failing it says what fails and that it goes on.
  await waitFor(/still trying/)
  t.match(ship.stderr(), /^shoebox ship: \S+\/1\.0\/events\/put: .*503.*; no batch acknowledged for \d+ s, still trying \(\d+ tries of this batch so far; --attempts N gives up\)\n$/)
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await waitFor(/stopped reading stdin/)
  t.match(ship.stderr(), /\nshoebox ship: SIGTERM: stopped reading stdin; still shipping the lines read \(a second SIGTERM quits at once\)\n$/)
  child.kill('SIGTERM')
  t.same(await exited, [null, 'SIGTERM'])
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`${signal} with stdin still open: stops reading, ships the lines read, says where it stopped; exit 0`, async (t) => {
    const collector = await startCollector()
    t.teardown(async () => { await collector.stop() })
    // Busy at first: the lines are read and held, not yet acknowledged, when the signal comes.
    collector.refuseAll(503)
    const ship = spawnShip(collector.url)
    const child = ship.child
    // 20 lines and the start of a 21st, and no end: a `tail -f` still writing.
    child.stdin.write(Array.from({ length: 20 }, (_, seq) => JSON.stringify({ seq }) + '\n').join('') + '{"seq":')
    const deadline = Date.now() + 60_000
    while (collector.requests === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    t.equal(collector.stored.length, 0, 'the lines were read and sent, and refused so far')
    child.kill(signal)
    collector.refuseAll(undefined)
    const [code] = await once(child, 'exit')
    child.stdin.destroy()
    t.equal(code, 0, ship.stderr())
    t.match(ship.stderr(), new RegExp(`shipped 20 events in .*; stopped by ${signal} after 20 lines of stdin, the line being read when ${signal} came \\(7 bytes of it read\\) not stored\\n$`))
    t.same(collector.stored.map((e) => e.event.seq), Array.from({ length: 20 }, (_, seq) => seq))
  })
}

t.test('SIGTERM with a regular file on stdin: the lines read are shipped, and the input was cut short: exit 143', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  // Busy at first: stdin is held once the queue is full, when the signal comes, with most of the file unread
  // (30 MB: the stages between stdin and the queue hold about a dozen of its 1 MiB reads).
  collector.refuseAll(503)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-file-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const file = path.join(dir, 'events.ndjson')
  const count = 30_000
  fs.writeFileSync(file, Array.from({ length: count }, (_, seq) => JSON.stringify({ seq, pad: 'x'.repeat(1000) }) + '\n').join(''))
  const fd = fs.openSync(file, 'r')
  t.teardown(() => { fs.closeSync(fd) })
  const child = spawn(process.execPath, [bin, 'ship', collector.url, '--stream', 's', '--queue', '1000'], { stdio: [fd, 'ignore', 'pipe'], env: cliEnv() })
  const errors = child.stderr as Readable
  let stderr = ''
  errors.on('data', (b: Buffer) => { stderr += b.toString() })
  const deadline = Date.now() + 60_000
  while (collector.requests === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  child.kill('SIGTERM')
  collector.refuseAll(undefined)
  const [code, sig] = await once(child, 'close') as [number | null, NodeJS.Signals | null]
  t.same([code, sig], [143, null], stderr)
  const match = /stopped by SIGTERM after (\d+) lines of stdin(, the line being read when SIGTERM came \(\d+ bytes? of it read\) not stored)?\n$/.exec(stderr)
  t.ok(match !== null, stderr)
  const read = Number(match?.[1])
  t.ok(read > 0 && read < count, `stopped mid-file (${read} lines)`)
  // (Batches retried after the 503s may arrive in any order.)
  const shipped = collector.stored.map((e) => e.event.seq as number).sort((a, b) => a - b)
  t.same(shipped, Array.from({ length: read }, (_, seq) => seq), 'the lines read, each shipped once')
})

t.test('a line over --max-line-length is a bad line: named with the flag, counted, the others shipped; exit 1', async (t) => {
  // A line with no newline was held whole (`yes | tr -d '\n' | shoebox ship` grew until the process died).
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const piece = Buffer.alloc(4096, 120)
  const err: Buffer[] = []
  const code = await main(['ship', collector.url, '--stream', 's', '--max-line-length', '64KiB'], {
    stdin: Readable.from([Buffer.from('{"i":1}\n{"i":2}\n{"i":"'), ...Array<Buffer>(4096).fill(piece), Buffer.from('"}\n{"i":4}\n')]),
    stdout: new Writable({ write (_c, _e, cb) { cb() } }),
    stderr: new Writable({ write (chunk: Buffer, _e, cb) { err.push(Buffer.from(chunk)); cb() } })
  })
  t.equal(code, 1)
  t.match(Buffer.concat(err).toString(), /^shoebox ship: line 3: longer than --max-line-length 65536 bytes \(raise --max-line-length\)\nshoebox ship: shipped 3 events .*; 1 invalid\n$/)
  t.same(collector.stored.map((e) => e.event.i).sort(), [1, 2, 4])
  for (const [given, said] of [['0', /--max-line-length.*at least 1 byte/], ['257MiB', /--max-line-length.*at most 256MiB.*"257MiB"/], ['lots', /--max-line-length.*"lots"/]] as const) {
    const bad = await cli(['ship', collector.url, '--stream', 's', '--max-line-length', given], '{"i":5}\n')
    t.equal(bad.code, 2, given)
    t.match(bad.stderr, said, given)
    t.notMatch(bad.stderr, /maxLineLength/, `${given}: the flag, not the API's option`)
  }
  t.equal(collector.stored.length, 3, 'nothing shipped with a bad flag')
})
