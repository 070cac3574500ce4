/**
 * The spill: events the queue has no room for go to a local rolling archive
 * and are replayed in order, in the same process once the server is back,
 * and by the next process after a SIGKILL, never sending an acknowledged
 * event twice (the sidecar of settled positions).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { decode } from '../../lib/format/decode.js'
import type { ShoeboxRecord } from '../../lib/record.js'
import { ship } from '../../lib/events/ship.js'
import { transpileTree } from '../transpile.js'
import { startCollector, type StoredEvent } from './fixtures/collector.js'
import { tempDir as testTempDir } from '../temp-dir.js'

/** Kept until the whole file has run. */
function tempDir (prefix: string): string {
  return testTempDir(t, prefix)
}

function seqs (stored: StoredEvent[], stream?: string): number[] {
  return stored.filter((e) => stream === undefined || e.stream === stream).map((e) => e.event.seq as number)
}

function range (from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i)
}

/** Where `got` first differs from from, from+1, ... (-1: nowhere). Cheap where t.same on thousands of items is not. */
function firstGap (got: number[], from: number): number {
  return got.findIndex((seq, i) => seq !== from + i)
}

const fast = { baseDelay: 5, maxDelay: 20 }

t.test('in one process: spilled while the server is down, replayed in order once it is back; callbacks after the ack', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = tempDir('shoebox-spill-')
  const shipper = ship(collector.url, { onOverflow: 'spill', spill: dir, queueEvents: 20, batchEvents: 10, retry: fast })
  let durable = 0
  shipper.on('spill', (e: { events: number }) => { durable += e.events })
  const n = 400
  const callbacks: Array<{ seq: number, err: unknown, stored: boolean }> = []
  for (let seq = 0; seq < n; seq++) {
    const stream = seq % 2 === 0 ? 'even' : 'odd'
    shipper.write({ stream, event: { seq } }, (err) => {
      callbacks.push({ seq, err, stored: collector.stored.some((e) => e.event.seq === seq) })
    })
  }
  while (durable < n - 20) await once(shipper, 'spill')
  t.equal(collector.stored.length, 0, 'nothing reached the server yet')
  // Sealed, or still the sink's open file (sealed when the replay takes it): both are fsynced before 'spill'.
  t.ok(fs.readdirSync(dir).some((name) => name.endsWith('.shoebox') || /\.shoebox~.*\.part$/.test(name)), 'spill files on disk')
  await collector.start()
  shipper.end()
  await once(shipper, 'finish')
  const all = seqs(collector.stored)
  t.equal(new Set(all).size, all.length, 'no event stored twice')
  t.same([...all].sort((a, b) => a - b), range(0, n), 'every event stored')
  t.same(seqs(collector.stored, 'even'), range(0, n).filter((s) => s % 2 === 0), 'each stream in the order written')
  t.same(seqs(collector.stored, 'odd'), range(0, n).filter((s) => s % 2 === 1))
  t.equal(callbacks.length, n)
  t.ok(callbacks.every((c) => c.err === null && c.stored), 'every callback: null, after its event was stored')
  const stats = shipper.stats().events
  t.equal(stats.spilled, n - 20)
  t.equal(stats.replayed, n - 20)
  t.same(fs.readdirSync(dir).filter((name) => !name.startsWith('.')), [], 'replayed files and sidecars are gone')
})

t.test('SIGKILL while spilling, SIGKILL while replaying: the next process sends every spilled event exactly once', async (t) => {
  const build = tempDir('shoebox-spill-child-')
  const child = transpileTree(new URL('./fixtures/spill-child.ts', import.meta.url).pathname, build)
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = tempDir('shoebox-spill-')

  function start (write: number, until: (line: string) => boolean): { done: Promise<void>, kill: () => Promise<void> } {
    const env = { ...process.env }
    delete env.NODE_OPTIONS
    const proc = spawn(process.execPath, [child, JSON.stringify({ url: collector.url, dir, write })], { stdio: ['ignore', 'pipe', 'pipe'], env })
    t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
    let stderr = ''
    proc.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const done = new Promise<void>((resolve, reject) => {
      let rest = ''
      proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n')
        rest = lines.pop() ?? ''
        if (lines.some(until)) resolve()
      })
      proc.on('exit', () => { reject(new Error(`child exited: ${stderr}`)) })
    })
    const kill = async (): Promise<void> => {
      const exited = once(proc, 'exit')
      proc.kill('SIGKILL')
      await exited
    }
    return { done, kill }
  }

  // 1: the server is down; the first 20 events wait in memory (lost with the process: never acknowledged), the rest spill.
  let durable = 0
  const first = start(1500, (line) => {
    const m = /^durable (\d+)$/.exec(line)
    if (m !== null) durable = Number(m[1])
    return durable >= 300
  })
  await first.done
  await first.kill()

  // 2: the server is back but stops answering after 100 events; killed once it has recorded every answered one.
  await collector.start()
  let acked = 0
  collector.on('stored', () => { if (collector.stored.length >= 100) collector.refuseAll(503) })
  const second = start(0, (line) => {
    const m = /^acked (\d+)$/.exec(line)
    if (m !== null) acked = Number(m[1])
    return acked >= 100 && acked === collector.stored.length
  })
  await second.done
  await second.kill()
  const afterSecond = collector.stored.length
  t.ok(afterSecond >= 100, `the second process replayed ${afterSecond} events`)

  // 3: in this process, to the end.
  collector.removeAllListeners('stored')
  collector.refuseAll(undefined)
  const shipper = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: dir, retry: fast })
  shipper.end()
  await once(shipper, 'finish')
  const all = seqs(collector.stored)
  t.equal(new Set(all).size, all.length, 'no event stored twice')
  t.ok(all.length >= durable, `at least the ${durable} events durably spilled (${all.length})`)
  t.equal(firstGap(all, 20), -1, 'the spilled events, in order, from the first one that found the queue full')
  t.ok(all.length > afterSecond, 'the third process sent the rest')
  t.same(fs.readdirSync(dir).filter((name) => !name.startsWith('.')), [], 'the spill is empty')
})

t.test('a damaged record among the acknowledged ones of a run that stopped: the next run sends every unacknowledged event once, and reports the damage', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = tempDir('shoebox-spill-')
  const n = 60
  const pad = 'x'.repeat(200)

  async function run (write: number, options: { attempts?: number } = {}): Promise<{ error: Error | undefined, damaged: unknown[] }> {
    const shipper = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: dir, queueEvents: 20, batchEvents: 10, retry: { ...fast, ...options } })
    const damaged: unknown[] = []
    shipper.on('damaged', (d) => { damaged.push(d) })
    let error: Error | undefined
    shipper.on('error', (err) => { error = err })
    for (let seq = 0; seq < write; seq++) shipper.write({ seq, pad }, () => {})
    shipper.end()
    await new Promise<void>((resolve) => { shipper.once('finish', resolve).once('close', resolve) })
    return { error, damaged }
  }

  // 1: the server is down: every event ends up in the spill.
  const first = await run(n, { attempts: 1 })
  t.ok(first.error, 'the first run gave up')
  // 2: the server acknowledges 30 of them, then refuses; the run gives up and records its progress.
  await collector.start()
  collector.on('stored', () => { if (collector.stored.length >= 30) collector.refuseAll(503) })
  const second = await run(0, { attempts: 2 })
  t.ok(second.error, 'the second run gave up')
  const acked = seqs(collector.stored)
  t.equal(acked.length, 30)
  t.ok(fs.readdirSync(dir).some((name) => name.endsWith('.acked')), 'progress recorded')

  // An acknowledged event's record is damaged on disk.
  const record = `{"seq":${acked[3]},`
  const file = fs.readdirSync(dir).filter((name) => name.endsWith('.shoebox')).map((name) => `${dir}/${name}`)
    .find((file) => fs.readFileSync(file).includes(record)) ?? ''
  const bytes = fs.readFileSync(file)
  const at = bytes.indexOf(record)
  t.ok(at > 0, 'the record is found in its spill file')
  bytes[at + 50] ^= 0xff
  fs.writeFileSync(file, bytes)

  // 3: to the end.
  collector.removeAllListeners('stored')
  collector.refuseAll(undefined)
  const third = await run(0)
  t.equal(third.error, undefined)
  t.equal(third.damaged.length, 1, 'the damage is reported')
  const all = seqs(collector.stored)
  t.same(all.slice(30).filter((seq) => acked.includes(seq)), [], 'no acknowledged event sent again')
  t.same([...all].sort((a, b) => a - b), range(0, n), 'every unacknowledged event sent, once')
  t.same(fs.readdirSync(dir).filter((name) => !name.startsWith('.')), [], 'the spill is empty')
})

t.test('a sidecar of settled counts alone (an older version\'s), or with a position an older version left behind: replayed by the counts', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = tempDir('shoebox-spill-')
  const first = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: dir, queueEvents: 5, batchEvents: 5, retry: { ...fast, attempts: 1 } })
  first.on('error', () => {})
  for (let seq = 0; seq < 20; seq++) first.write({ seq }, () => {})
  first.end()
  await new Promise((resolve) => { first.once('close', resolve) })
  await collector.start()
  const key = '\u0000-\u0000s'
  // The first run's events may span two files: the sidecar goes with the one holding most.
  const files = await Promise.all(fs.readdirSync(dir).filter((name) => name.endsWith('.shoebox')).map(async (name) => {
    const records = decode({ file: `${dir}/${name}` })
    const read = pipeline(fs.createReadStream(`${dir}/${name}`), records)
    const inFile: number[] = []
    for await (const record of records as AsyncIterable<ShoeboxRecord>) inFile.push((JSON.parse(record.payload.toString('utf8')) as { seq: number }).seq)
    await read
    return { name, inFile }
  }))
  const { name, inFile } = files.reduce((a, b) => a.inFile.length >= b.inFile.length ? a : b)
  t.ok(inFile.length > 10, `${inFile.length} events in ${name}`)
  for (const sidecar of [{ [key]: 7 }, { [key]: 7, positions: { [key]: [3, 2] } }]) {
    const before = collector.stored.length
    const copy = tempDir('shoebox-spill-')
    fs.copyFileSync(`${dir}/${name}`, `${copy}/${name}`)
    fs.writeFileSync(`${copy}/${name}.acked`, JSON.stringify(sidecar))
    const shipper = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: copy, retry: fast })
    shipper.end()
    await once(shipper, 'finish')
    t.same(seqs(collector.stored.slice(before)), inFile.slice(7), `${JSON.stringify(sidecar)}: all but the first 7 in the file, once`)
  }
})

t.test('two shippers of one process on one spill directory (the second through a symlink): the second is refused, each spilled event is sent once; once the first is closed the directory is free', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = tempDir('shoebox-spill-')
  const first = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: dir, queueEvents: 5, retry: { ...fast, attempts: 1 } })
  first.on('error', () => {})
  for (let seq = 0; seq < 200; seq++) first.write({ seq }, () => {})
  first.end()
  await new Promise((resolve) => { first.once('close', resolve) })
  await collector.start()
  const a = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: dir, retry: fast })
  // The same directory through a symlink.
  const link = `${tempDir('shoebox-spill-')}/link`
  fs.symlinkSync(dir, link)
  const b = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: link, retry: fast })
  const errors: Record<string, Error> = {}
  a.on('error', (err) => { errors.a = err })
  b.on('error', (err) => { errors.b = err })
  a.end()
  b.end()
  await Promise.all([a, b].map(async (s) => { await new Promise((resolve) => { s.once('close', resolve) }) }))
  t.equal(errors.a, undefined)
  t.match(errors.b, { code: 'SHOEBOX_IO', message: `spill directory ${link} is in use by this process (a shoebox ship not closed yet: close it first)` })
  const all = seqs(collector.stored)
  t.equal(all.length, 200, 'every spilled event sent once, not by both')
  t.same([...all].sort((x, y) => x - y), range(0, 200))
  const c = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: dir, retry: fast })
  await c.opened
  c.end()
  await once(c, 'finish')
  t.same(fs.readdirSync(dir), [], 'the next shipper took the directory, and left it empty')
})

t.test('the temporary files a kill leaves (a sidecar\'s write, the lock\'s) are removed by the next shipper', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const dir = tempDir('shoebox-spill-')
  const left = ['.spill-20261207T010203004000Z-000000-123-000000.shoebox.acked.1a2b3c4d.tmp', '..ship.pid.123.0a0b0c0d.tmp']
  for (const name of left) fs.writeFileSync(`${dir}/${name}`, '{}')
  fs.writeFileSync(`${dir}/.other.tmp`, 'not ours')
  const shipper = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: dir, retry: fast })
  await shipper.opened
  shipper.end()
  await once(shipper, 'finish')
  t.same(fs.readdirSync(dir), ['.other.tmp'], 'gone, and nothing else')
})
