/**
 * index.json as saveIndex writes it: the text JSON.stringify makes of the
 * index, byte for byte (what every older server reads back), written a
 * piece at a time: the text of an index of many runs is never made whole
 * (it was, with its bytes, at every flush: 32 MB each for 100,000 runs).
 * loadIndex gives back the same values.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { emptyIndex, INDEX_FILE, loadIndex, saveIndex, type RunIndex } from '../../lib/events/store/run-index.js'
import type { RunInfo } from '../../lib/events/store/run-file.js'

function run (i: number, extra: Partial<RunInfo> = {}): RunInfo {
  const time = String(17_000_000_000_000_000n + BigInt(i))
  return {
    file: `${String(i + 1).padStart(10, '0')}.shoebox`, ns: 'kronos', stream: `stream-${i}`, bucket: '16999200000000000',
    minTime: time, maxTime: time, firstId: `0000000${i % 10}-1111-1111-8111-111111111111`, lastId: `0000000${i % 10}-1111-1111-8111-111111111111`,
    count: 1, bytes: 90, blocks: [[0, time]], ...extra
  }
}

const cases: Array<[string, RunIndex]> = [
  ['empty', emptyIndex()],
  ['with walOffset, gzip runs, odd stream names', {
    version: 1, walSeq: 7, walOffset: 4096, runSeq: 12,
    runs: [run(0, { gzip: true, blocks: [[0, '5'], [65536, '9']] }), run(1, { stream: '__proto__' }), run(2, { stream: 'ü "q" \\ \u2028' })],
    streams: Object.fromEntries([['kronos', ['__proto__', 'ü "q" \\ \u2028', 'stream-0']], ['__proto__', ['x']], ['empty', []]])
  }],
  ['walOffset undefined (left out)', { version: 1, walSeq: 3, walOffset: undefined, runSeq: 2, runs: [run(5)], streams: {} }]
]

for (const [name, index] of cases) {
  t.test(`${name}: the bytes JSON.stringify makes, and loadIndex reads them back`, async (t) => {
    const dir = t.testdir()
    await saveIndex(dir, index, false)
    const written = fs.readFileSync(path.join(dir, INDEX_FILE), 'utf8')
    t.equal(written, JSON.stringify(index))
    t.same(await loadIndex(dir), JSON.parse(JSON.stringify(index)))
  })
}

t.test('an index of 20,000 runs (6 MB) is written in pieces of 1 to 1.5 MiB, never whole', async (t) => {
  const dir = t.testdir()
  const index: RunIndex = { ...emptyIndex(), runSeq: 20_001, runs: Array.from({ length: 20_000 }, (_, i) => run(i)) }
  index.streams = { kronos: index.runs.map((r) => r.stream) }
  // Every write of a file handle, by size (saveIndex is the only writer while it runs).
  const probe = await fsp.open(path.join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> }
  await probe.close()
  const write = proto.write
  const sizes: number[] = []
  proto.write = async function (this: unknown, ...args: unknown[]) {
    const data = args[0] as Uint8Array
    sizes.push(typeof args[2] === 'number' ? args[2] : data.length)
    return await write.apply(this, args)
  }
  try {
    await saveIndex(dir, index, false)
  } finally {
    proto.write = write
  }
  const text = JSON.stringify(index)
  t.ok(text.length > 6_000_000)
  t.equal(fs.readFileSync(path.join(dir, INDEX_FILE), 'utf8'), text)
  t.equal(sizes.reduce((a, b) => a + b, 0), text.length, 'every byte written once')
  t.ok(sizes.length >= 4 && Math.max(...sizes) < 1.5 * 2 ** 20, `${sizes.length} writes, the largest ${Math.max(...sizes)} bytes`)
})
