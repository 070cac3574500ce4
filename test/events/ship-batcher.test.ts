/** The batching rule on its own: cuts by count, bytes and age, per namespace and stream. */
import t from 'tap'
import { Batcher, type Batch } from '../../lib/events/ship-batcher.js'

/** Add an event of `bytes` ASCII bytes; the batches it cut. */
function add (b: Batcher, namespace: string | undefined, stream: string, bytes: number, now = 0, text = 'x'.repeat(bytes)): Batch[] {
  const cut: Batch[] = []
  t.equal(b.add(namespace, stream, text, undefined, undefined, undefined, undefined, now, cut), Buffer.byteLength(text), 'add() returns the UTF-8 length')
  return cut
}
const sizes = (batches: Batch[]): number[] => batches.map((b) => b.count)

t.test('count: the n-th event cuts its batch', async (t) => {
  const b = new Batcher({ maxEvents: 3, maxBytes: 1e9, maxAgeMs: 100 })
  t.same(sizes([...add(b, undefined, 's', 1), ...add(b, undefined, 's', 1)]), [])
  t.same(sizes(add(b, undefined, 's', 1)), [3])
  t.equal(b.events, 0)
})

t.test('bytes: an event that would overflow starts the next batch; one over the limit goes alone', async (t) => {
  const b = new Batcher({ maxEvents: 100, maxBytes: 10, maxAgeMs: 100 })
  t.same(sizes(add(b, undefined, 's', 6)), [])
  t.same(sizes(add(b, undefined, 's', 6)), [1], 'the first cut, the second waits')
  t.equal(b.events, 1)
  const cut = add(b, undefined, 's', 50)
  t.same(sizes(cut), [1, 1], 'the waiting one, then the big one alone')
  t.same(cut.map((x) => x.bytes), [6, 50])
  t.same(cut.map((x) => x.text(0)), ['x'.repeat(6), 'x'.repeat(50)], 'the moved event keeps its text')
  t.equal(b.events, 0)
})

t.test('bytes: an overflowing event moves with its callback and origin; multi-byte text counted in UTF-8', async (t) => {
  const b = new Batcher({ maxEvents: 100, maxBytes: 12, maxAgeMs: 100 })
  const calls: string[] = []
  const cut: Batch[] = []
  t.equal(b.add('n', 's', '{"a":"é"}', undefined, (e: Error | null) => { calls.push(`1 ${String(e)}`) }, undefined, undefined, 0, cut), 10)
  t.equal(b.add('n', 's', '{"b":"ü"}', undefined, (e: Error | null) => { calls.push(`2 ${String(e)}`) }, 'origin-2', undefined, 5, cut), 10)
  t.same(sizes(cut), [1])
  t.equal(cut[0].body().toString(), '{"events": {"s": [{"a":"é"}]}, "namespace": "n"}')
  t.ok((cut[0].origins ?? []).every((o) => o === undefined), 'the first batch holds no replayed event')
  const rest = b.all()
  t.same(sizes(rest), [1])
  t.equal(rest[0].text(0), '{"b":"ü"}')
  t.same(rest[0].origins, ['origin-2'])
  t.equal(rest[0].openedAt, 5, 'the next batch opened when the event arrived')
  for (const batch of [...cut, ...rest]) for (const done of batch.dones) done?.(null)
  t.same(calls, ['1 null', '2 null'])
})

t.test('lines: each event keeps the line it was written with, across an overflow; none given, none kept', async (t) => {
  const b = new Batcher({ maxEvents: 100, maxBytes: 12, maxAgeMs: 100 })
  const cut: Batch[] = []
  b.add('n', 's', '{"a":1}', undefined, undefined, undefined, undefined, 0, cut)
  b.add('n', 's', '{"b":2}', undefined, undefined, undefined, 7, 0, cut)
  t.same(sizes(cut), [1], 'the second event overflowed into the next batch')
  t.ok((cut[0].lines ?? []).every((l) => l === undefined), 'the first batch holds no line (the moved event took its own)')
  b.add('n', 's', '{}', undefined, undefined, undefined, 9, 0, cut)
  const rest = b.all()
  t.same(rest.map((x) => x.lines), [[7, 9]], 'the moved event kept its line, beside the next one')
  const mixed = new Batcher({ maxEvents: 100, maxBytes: 1e9, maxAgeMs: 100 })
  mixed.add('n', 's', '{}', undefined, undefined, undefined, undefined, 0, cut)
  mixed.add('n', 's', '{}', undefined, undefined, undefined, 3, 0, cut)
  t.same(mixed.all()[0].lines, [undefined, 3], 'an event without a line is undefined in its place')
  const none = new Batcher({ maxEvents: 100, maxBytes: 1e9, maxAgeMs: 100 })
  none.add('n', 's', '{}', undefined, undefined, undefined, undefined, 0, cut)
  t.equal(none.all()[0].lines, undefined, 'no line written, no array kept')
})

t.test('age: due batches oldest first; streams and namespaces apart', async (t) => {
  const b = new Batcher({ maxEvents: 100, maxBytes: 1e9, maxAgeMs: 100 })
  add(b, 'n1', 's', 1, 50)
  add(b, undefined, 's', 1, 10)
  add(b, 'n2', 's', 1, 30)
  add(b, 'n2', 's', 1, 200)
  t.equal(b.nextDue(), 110)
  t.same(b.due(109), [])
  const due = b.due(150)
  t.same(due.map((x) => x.namespace), [undefined, 'n2', 'n1'])
  t.same(sizes(due), [1, 2, 1])
  t.equal(b.nextDue(), undefined)
  add(b, undefined, 'a', 1)
  add(b, undefined, 'b', 1)
  t.same(sizes(b.all()), [1, 1])
  t.equal(b.events, 0)
})

t.test('recycle: an acknowledged batch\'s buffer holds a later body, which comes out exactly as from a fresh one', async (t) => {
  const b = new Batcher({ maxEvents: 3, maxBytes: 1e9, maxAgeMs: 100 })
  const texts = ['{"a":"ü"}', '{"b":2}', `{"c":"${'z'.repeat(5000)}"}`, '{"d":[]}', '{"e":"日本"}', '{"f":1}']
  const cut: Batch[] = []
  for (const text of texts.slice(0, 3)) b.add('n', 's', text, undefined, undefined, undefined, undefined, 0, cut)
  const first = cut[0].body()
  const expected = (xs: string[]): string => `{"events": {"s": [${xs.join(', ')}]}, "namespace": "n"}`
  t.equal(first.toString(), expected(texts.slice(0, 3)))
  b.recycle(cut[0])
  t.throws(() => cut[0].append('{}', undefined, undefined, undefined, undefined), /sealed/, 'a recycled batch takes nothing more')
  const more: Batch[] = []
  for (const text of texts.slice(3)) b.add('n', 's', text, undefined, undefined, undefined, undefined, 0, more)
  const second = more[0].body()
  t.equal(second.buffer, first.buffer, 'the same memory')
  t.equal(second.toString(), expected(texts.slice(3)), 'nothing of the earlier body shows')
  t.same([0, 1, 2].map((i) => more[0].text(i)), texts.slice(3))
  // A batch of another stream, while no spare is left, gets memory of its own.
  const other: Batch[] = []
  for (const text of texts.slice(3)) b.add(undefined, 'o', text, undefined, undefined, undefined, undefined, 0, other)
  t.not(other[0].body().buffer, first.buffer)
  // A small body (one short event) is recycled too: its memory is its own on every Node, though Node 24's
  // Buffer.allocUnsafe takes anything under 32 KiB from its shared pool (Node 20's: under 4 KiB).
  const small = other[0].body().buffer
  t.ok(small.byteLength < Buffer.poolSize, `its own memory (${small.byteLength} bytes), not Node's shared pool (${Buffer.poolSize})`)
  b.recycle(other[0])
  const again: Batch[] = []
  for (const text of texts.slice(3)) b.add(undefined, 'o', text, undefined, undefined, undefined, undefined, 0, again)
  t.equal(again[0].body().buffer, small, 'a small body\'s memory is used again')
  t.equal(again[0].body().toString(), `{"events": {"o": [${texts.slice(3).join(', ')}]}}`)
})

t.test('split: two halves in order, each event with its callback, origin, line and bytes; shrinkBytes only lowers, to 1 at least', async (t) => {
  const b = new Batcher({ maxEvents: 5, maxBytes: 1e9, maxAgeMs: 100 })
  const cut: Batch[] = []
  const dones = [0, 1, 2, 3, 4].map((i) => (): number => i)
  const texts = ['{"a":"é"}', '{"b":1}', '{"c":"日本"}', '{}', '{"e":[1, 2]}']
  texts.forEach((text, i) => b.add(undefined, 's', text, undefined, dones[i], i === 3 ? { spilled: 3 } : undefined, i === 1 ? 7 : undefined, 0, cut))
  t.equal(cut.length, 1)
  const whole = cut[0]
  whole.body()
  const [first, second] = whole.split()
  t.same([first.count, second.count], [3, 2], 'the first half takes the odd one')
  t.same([0, 1, 2].map((i) => first.text(i)), texts.slice(0, 3))
  t.same([0, 1].map((i) => second.text(i)), texts.slice(3))
  t.same([...first.dones, ...second.dones], dones, 'callbacks follow their events')
  t.same(first.lines, [undefined, 7, undefined])
  t.equal(first.origins, undefined)
  t.same(second.origins, [{ spilled: 3 }, undefined])
  t.equal(first.bytes + second.bytes, whole.bytes)
  t.same(JSON.parse(second.body().toString()), { events: { s: [{}, { e: [1, 2] }] } }, 'a half is a whole put body')
  const [one, none] = first.split()[1].split()
  t.same([one.count, none.count], [1, 0])

  t.equal(b.shrinkBytes(1000), 500, 'half the refused size')
  t.equal(b.shrinkBytes(4000), 500, 'never raised')
  t.equal(b.shrinkBytes(1), 1, 'never below one event a batch')
  t.equal(b.limits.maxBytes, 1)
  t.same(sizes([...add(b, undefined, 's', 3), ...add(b, undefined, 's', 3)]), [1, 1], 'each event alone')
})
