/**
 * stampNdjson() around Node's own composition: `readable.compose()`
 * (`stream.compose()`) and `Duplex.from()` read a stage's readableObjectMode
 * and writableObjectMode to build the composed stream. stampNdjson() is
 * pumpify's Duplex (readable-stream 3), which has neither getter: composed,
 * it was a byte stream, and its first record failed it with
 * ERR_INVALID_ARG_TYPE ("Received an instance of Object"). Nor does it
 * close after its end (no autoDestroy): a composition around it destroyed
 * it with an AbortError after the end, which it emitted unheard, killing
 * the process.
 */
import { Readable } from 'node:stream'
import * as stream from 'node:stream'
import t from 'tap'
import { stampNdjson, type StampedEventRecord } from '../../lib/events/stamp.js'

const NDJSON = '{"n":1}\n{"n":2,"t":"é"}\n\n{"n":4}\n'

t.test('stampNdjson() says it is an object stream on both sides, as stamp() does', async (t) => {
  const stage = stampNdjson({ stream: 's' })
  t.equal(stage.readableObjectMode, true)
  t.equal(stage.writableObjectMode, true)
  stage.destroy()
})

t.test('readable.compose(stampNdjson()) gives the stamped records, numbered by line', async (t) => {
  const out = await Readable.from([NDJSON]).compose(stampNdjson({ stream: 's' })).toArray() as StampedEventRecord[]
  t.same(out.map((r) => [r.stream, r.line, (JSON.parse(r.event) as { n: number }).n]), [['s', 1, 1], ['s', 2, 2], ['s', 4, 4]])
})

t.test('composed, then composed with a Transform of the records; and Duplex.from() around it', async (t) => {
  const lines = new stream.Transform({ objectMode: true, transform (r: StampedEventRecord, _e, cb) { cb(null, { line: r.line }) } })
  t.same(await Readable.from([NDJSON]).compose(stampNdjson({ stream: 's' })).compose(lines).toArray(), [{ line: 1 }, { line: 2 }, { line: 4 }])
  const wrapped = stream.Duplex.from(stampNdjson({ stream: 's' }))
  t.same((await Readable.from([NDJSON]).compose(wrapped).toArray() as StampedEventRecord[]).map((r) => r.line), [1, 2, 4])
})

t.test('a bad line in a composed stampNdjson() fails it with that line\'s error', async (t) => {
  // (Which records before it reach the reader is compose()'s to say: it destroys at the first error, for stamp() too.)
  const composed = Readable.from(['{"n":1}\nnot json\n{"n":3}\n']).compose(stampNdjson({ stream: 's' }))
  await t.rejects(composed.toArray(), { code: 'SHOEBOX_INVALID_JSON', message: /^line 2: / })
})
