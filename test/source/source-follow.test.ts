/**
 * Issue 9, A2: following a directory that other programs copy files into.
 * A file is read once complete and stable; one read while it still ended
 * mid-record is read again when it changes: every record exactly once.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t from 'tap'
import { archiveSource, encodeRecords, type ArchiveSource, type ShoeboxRecord } from '../../lib/index.js'
import { listRetryPause } from '../../lib/source/archive-source.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-follow-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const COUNT = 20000
const payloads = Array.from({ length: COUNT }, (_, i) => `{"n":${i},"pad":"${'p'.repeat(i % 17)}"}`)
const plain = encodeRecords(payloads.map((payload) => ({ payload })))
const gz = zlib.gzipSync(plain, { level: 1 })

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Copy `bytes` into `file` as a slow copier would: small writes with pauses, and maybe one long stall. */
async function slowCopy (file: string, bytes: Buffer, stallAt?: number): Promise<void> {
  const fd = fs.openSync(file, 'w')
  try {
    const step = Math.ceil(bytes.length / 40)
    for (let at = 0; at < bytes.length; at += step) {
      fs.writeSync(fd, bytes, at, Math.min(step, bytes.length - at))
      // A stall of many poll intervals: the part copied so far looks finished.
      await sleep(stallAt !== undefined && at <= stallAt && stallAt < at + step ? 300 : 3)
    }
  } finally {
    fs.closeSync(fd)
  }
}

interface Followed { payloads: string[], corrupt: unknown[], error: unknown }

/** Follow `dir` until `expected` records came (or an error), then stop. */
async function follow (source: ArchiveSource, expected: number): Promise<Followed> {
  const out: Followed = { payloads: [], corrupt: [], error: null }
  source.on('corrupt', (info) => out.corrupt.push(info))
  return await new Promise((resolve) => {
    source.on('data', (record: ShoeboxRecord) => {
      out.payloads.push(record.payload.toString())
      if (out.payloads.length === expected) source.stop()
    })
    source.once('end', () => { resolve(out) })
    source.once('error', (error) => {
      out.error = error
      resolve(out)
    })
  })
}

const cases: Array<[string, Buffer, number | undefined]> = [
  ['gzip, copied slowly', gz, undefined],
  ['gzip, copied with a long stall half way', gz, Math.floor(gz.length / 2)],
  ['plain, copied with a long stall half way', plain, Math.floor(plain.length / 2) + 7]
]
for (const [name, bytes, stallAt] of cases) {
  for (const mode of ['strict', 'lenient'] as const) {
    t.test(`${name}, ${mode}: every record exactly once, in order, nothing reported`, async (t) => {
      const dir = fs.mkdtempSync(path.join(tmp, 'd-'))
      const source = archiveSource(path.join(dir, '*'), { follow: true, pollInterval: 20, mode })
      const reads: string[] = []
      source.on('file', (e: { name: string }) => reads.push(e.name))
      const followed = follow(source, COUNT)
      await sleep(50)
      const file = path.join(dir, bytes === gz ? 'copied.shoebox.gz' : 'copied.shoebox')
      await slowCopy(file, bytes, stallAt)
      const result = await followed
      t.equal(result.error, null)
      t.same(result.corrupt, [])
      t.equal(result.payloads.length, COUNT)
      t.ok(result.payloads.every((p, i) => p === payloads[i]), 'in order, none twice')
      if (stallAt !== undefined) t.ok(reads.length >= 1, `read ${reads.length} time(s)`)
    })
  }
}

t.test('a file that stays cut short is not reported, and a later file is still read', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'cut-'))
  fs.writeFileSync(path.join(dir, 'a.shoebox'), plain.subarray(0, 1000))
  fs.utimesSync(path.join(dir, 'a.shoebox'), new Date(Date.now() - 60000), new Date(Date.now() - 60000))
  const source = archiveSource(path.join(dir, '*'), { follow: true, pollInterval: 20 })
  const followed = follow(source, 20)
  await sleep(100)
  fs.writeFileSync(path.join(dir, 'b.shoebox'), encodeRecords(Array.from({ length: 20 }, (_, i) => ({ payload: `b${i}` }))))
  const result = await followed
  t.equal(result.error, null)
  t.same(result.corrupt, [])
  const before = payloads.filter((_, i) => i < result.payloads.length && result.payloads[i] === payloads[i])
  t.ok(before.length > 0, 'the whole records of the cut file came')
  t.same(result.payloads.slice(before.length), Array.from({ length: 20 - before.length }, (_, i) => `b${i}`))
})

t.test('a signal stops a followed read (an AbortError), and one not following; a signal that is no AbortSignal is refused', async (t) => {
  const dir = path.join(tmp, 'signal')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'a.shoebox'), encodeRecords([{ payload: '{"a":1}' }, { payload: '{"a":2}' }]))
  // The option was taken and read by nothing: the followed read went on for good.
  for (const follow of [true, false]) {
    const controller = new AbortController()
    const source = archiveSource(path.join(dir, '*'), { follow, pollInterval: '10ms', signal: controller.signal })
    const seen: string[] = []
    const ended = (async () => {
      try {
        for await (const record of source as AsyncIterable<ShoeboxRecord>) {
          seen.push(record.payload.toString())
          if (seen.length === 1) controller.abort()
        }
        return 'ended'
      } catch (err) {
        return (err as Error).name
      }
    })()
    const timer = setTimeout(() => { source.destroy() }, 5000)
    t.equal(await ended, 'AbortError', `follow ${follow}: the read fails with an AbortError`)
    clearTimeout(timer)
    t.same(seen, ['{"a":1}'], `follow ${follow}: nothing after the abort`)
  }
  t.throws(() => archiveSource(path.join(dir, '*'), { signal: 'x' as unknown as AbortSignal }), { code: 'SHOEBOX_INVALID_OPTION', option: 'signal' })
})

t.test('a follow whose listings keep failing pauses pollInterval (at least 1 s), doubling, and never more than 30 s (README)', async (t) => {
  // The pauses the listFailed events report (test/source/source-s3.test.ts sees the first two through a failing server).
  const pauses = (pollMs: number, failures: number): number[] => Array.from({ length: failures }, (_, i) => listRetryPause(pollMs, i + 1))
  t.same(pauses(20, 8), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000], 'from 1 s (pollInterval under it), doubling, then 30 s')
  t.same(pauses(5000, 4), [5000, 10000, 20000, 30000], 'from pollInterval')
  t.same(pauses(60_000, 2), [30000, 30000], 'a pollInterval over 30 s: 30 s')
  t.equal(listRetryPause(1000, 5000), 30000, 'a failing store all night: still 30 s (2 ** n is Infinity, not NaN)')
})
