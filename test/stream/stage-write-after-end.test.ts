/**
 * A write() after end() into a stage (encode(), decode(), encodeNdjson(),
 * RecordsToNdjson, the compression stages, stamp(), stampNdjson()), as an ETL
 * job's own producer makes it (a late callback, a second end(record)). Node
 * answered ERR_STREAM_WRITE_AFTER_END, which names no stage and is no
 * ShoeboxError, and destroyed the stage at once, dropping the output of the
 * writes before end() that its reader had not taken yet (gzip() passed on
 * nothing at all). Now the late write alone is refused, SHOEBOX_USAGE naming
 * the stage; everything written before end() comes out; then the stage fails
 * with that refusal (no 'end': the output is not what its writer meant).
 */
import zlib from 'node:zlib'
import { Readable, type Duplex } from 'node:stream'
import t, { type Test } from 'tap'
import {
  decode, encode, encodeNdjson, encodeRecords, gunzip, gunzipMembers, gzip, payloadText, RecordsToNdjson, ShoeboxError, zstd, zstdDecompress,
  type ShoeboxRecord
} from '../../lib/index.js'
import { stamp, stampNdjson } from '../../lib/events/index.js'
import { zstdFrame } from '../../lib/compress/zstd.js'

const COUNT = 3000
const lines = Array.from({ length: COUNT }, (_, i) => `{"i":${i},"pad":"${'x'.repeat(i % 40)}"}`)
const ndjson = Buffer.from(lines.map((line) => line + '\n').join(''))
const records = lines.map((line) => ({ metadata: { k: 'v' }, payload: line }))

/** Decoded records' payloads as text. */
async function payloadsOf (bytes: Buffer): Promise<string[]> {
  const out: string[] = []
  for await (const record of Readable.from([bytes]).pipe(decode())) out.push(payloadText(record as ShoeboxRecord))
  return out
}

const eventField = (event: unknown): unknown => (JSON.parse((event as { event: string }).event) as { i?: unknown }).i

interface Case {
  stage: string
  make: () => Duplex
  /** The writes before end(). */
  input: () => Promise<unknown[]>
  /** What the late write gives. */
  late: unknown
  /** Checks what came out (all of it, in order). */
  check: (t: Test, out: unknown[]) => Promise<void>
}

const bytesOut = (out: unknown[]): Buffer => Buffer.concat(out as Buffer[])

const cases: Case[] = [
  {
    stage: 'encode()',
    make: () => encode(),
    input: async () => records,
    late: { payload: 'late' },
    check: async (t, out) => { t.same(await payloadsOf(bytesOut(out)), lines) }
  },
  {
    stage: 'decode()',
    make: () => decode(),
    input: async () => [encodeRecords(records)],
    late: encodeRecords([{ payload: 'late' }]),
    check: async (t, out) => { t.same((out as ShoeboxRecord[]).map(payloadText), lines) }
  },
  {
    stage: 'encodeNdjson()',
    make: () => encodeNdjson(),
    input: async () => [ndjson],
    late: Buffer.from('{"late":1}\n'),
    check: async (t, out) => { t.same(await payloadsOf(bytesOut(out)), lines) }
  },
  {
    stage: 'RecordsToNdjson',
    make: () => new RecordsToNdjson({ payloadOnly: true }) as unknown as Duplex,
    input: async () => records.map((r) => ({ metadata: r.metadata, payload: Buffer.from(r.payload) })),
    late: { metadata: {}, payload: Buffer.from('{"late":1}') },
    check: async (t, out) => { t.same(out.map(String).join(''), ndjson.toString()) }
  },
  {
    stage: 'gzip()',
    make: () => gzip(),
    input: async () => [ndjson],
    late: Buffer.from('late\n'),
    check: async (t, out) => { t.same(zlib.gunzipSync(bytesOut(out)), ndjson) }
  },
  {
    stage: 'gunzip()',
    make: () => gunzip(),
    input: async () => [zlib.gzipSync(ndjson)],
    late: zlib.gzipSync('late\n'),
    check: async (t, out) => { t.same(bytesOut(out), ndjson) }
  },
  {
    stage: 'gunzip()',
    make: () => gunzipMembers(),
    input: async () => [zlib.gzipSync(ndjson)],
    late: zlib.gzipSync('late\n'),
    check: async (t, out) => { t.same(bytesOut(out), ndjson) }
  },
  {
    stage: 'zstd()',
    make: () => zstd(),
    input: async () => [ndjson],
    late: Buffer.from('late\n'),
    check: async (t, out) => {
      const back: Buffer[] = []
      for await (const chunk of Readable.from([bytesOut(out)]).pipe(zstdDecompress())) back.push(chunk as Buffer)
      t.same(Buffer.concat(back), ndjson)
    }
  },
  {
    stage: 'zstdDecompress()',
    make: () => zstdDecompress(),
    input: async () => [await zstdFrame(ndjson, 1)],
    late: await zstdFrame(Buffer.from('late\n'), 1),
    check: async (t, out) => { t.same(bytesOut(out), ndjson) }
  },
  {
    stage: 'stamp()',
    make: () => stamp({ stream: 'orders' }),
    input: async () => lines.map((line) => JSON.parse(line) as unknown),
    late: { late: 1 },
    check: async (t, out) => {
      t.same(out.map(eventField), lines.map((_, i) => i), 'every event, stamped, in order')
    }
  },
  {
    stage: 'stampNdjson()',
    make: () => stampNdjson({ stream: 'orders' }),
    input: async () => [ndjson],
    late: Buffer.from('{"late":1}\n'),
    check: async (t, out) => { t.same(out.map(eventField), lines.map((_, i) => i), 'every event, stamped, in order') }
  }
]

/** Write the input, end(), write late (or end(late) again); a reader that starts only afterwards. */
async function writeLate (stage: Duplex, input: unknown[], late: unknown, how: 'write' | 'end'): Promise<{ refusal: unknown, failure: unknown, out: unknown[], ended: boolean }> {
  let ended = false
  stage.on('end', () => { ended = true })
  const failed = new Promise<unknown>((resolve) => { stage.once('error', resolve) })
  for (const chunk of input) stage.write(chunk)
  stage.end()
  // end(chunk) has no callback for the chunk: its refusal is the stage's failure.
  let refusal: unknown = failed
  if (how === 'write') refusal = await new Promise((resolve) => { stage.write(late, resolve) })
  else stage.end(late)
  await new Promise((resolve) => setImmediate(resolve))
  // The reader comes late: what the stage made of the writes before end() is still all there for it.
  const out: unknown[] = []
  stage.on('data', (chunk: unknown) => { out.push(chunk) })
  const failure = await failed
  return { refusal: await refusal, failure, out, ended }
}

for (const c of cases) {
  for (const how of ['write', 'end'] as const) {
    t.test(`${c.stage} ${how === 'write' ? 'write()' : 'end(chunk)'} after end(): refused by name, the output before it delivered, then the stage fails`, async (t) => {
      const { refusal, failure, out, ended } = await writeLate(c.make(), await c.input(), c.late, how)
      t.ok(refusal instanceof ShoeboxError, 'a ShoeboxError')
      t.match(refusal, {
        code: 'SHOEBOX_USAGE',
        message: `${c.stage}: write after end(): it was not taken; what was written before end() is passed on, then it fails with this error`
      })
      t.equal(failure, refusal, 'the stage fails with the same error')
      t.notOk(ended, 'no end')
      await c.check(t, out)
    })
  }
}

t.test('a write after end() into a stage whose output was all taken already: refused, and the stage fails rather than ends', async (t) => {
  const stage = encode()
  const out: Buffer[] = []
  const failed = new Promise<unknown>((resolve) => { stage.once('error', resolve) })
  let ended = false
  stage.on('end', () => { ended = true })
  stage.on('data', (chunk: Buffer) => { out.push(chunk) })
  stage.write(records[0])
  stage.end()
  const refusal = await new Promise((resolve) => { stage.write(records[1], resolve) })
  t.match(refusal, { code: 'SHOEBOX_USAGE' })
  t.equal(await failed, refusal)
  t.notOk(ended)
  t.same(await payloadsOf(Buffer.concat(out)), [lines[0]])
})
