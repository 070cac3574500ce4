/** The batching rule on its own: cuts by count, bytes and age, per namespace and stream. */
import t from 'tap'
import { Batcher, type QueuedEvent } from '../../lib/events/ship-batcher.js'

const ev = (bytes: number): QueuedEvent => ({ text: 'x'.repeat(bytes), bytes, done: undefined, origin: undefined })
const sizes = (batches: Array<{ events: QueuedEvent[] }>): number[] => batches.map((b) => b.events.length)

t.test('count: the n-th event cuts its batch', async (t) => {
  const b = new Batcher({ maxEvents: 3, maxBytes: 1e9, maxAgeMs: 100 })
  t.same(sizes([...b.add(undefined, 's', ev(1), 0), ...b.add(undefined, 's', ev(1), 0)]), [])
  t.same(sizes(b.add(undefined, 's', ev(1), 0)), [3])
  t.equal(b.events, 0)
})

t.test('bytes: an event that would overflow starts the next batch; one over the limit goes alone', async (t) => {
  const b = new Batcher({ maxEvents: 100, maxBytes: 10, maxAgeMs: 100 })
  t.same(sizes(b.add(undefined, 's', ev(6), 0)), [])
  t.same(sizes(b.add(undefined, 's', ev(6), 0)), [1], 'the first cut, the second waits')
  t.same(sizes(b.add(undefined, 's', ev(50), 0)), [1, 1], 'the waiting one, then the big one alone')
  t.equal(b.events, 0)
})

t.test('age: due batches oldest first; streams and namespaces apart', async (t) => {
  const b = new Batcher({ maxEvents: 100, maxBytes: 1e9, maxAgeMs: 100 })
  b.add('n1', 's', ev(1), 50)
  b.add(undefined, 's', ev(1), 10)
  b.add('n2', 's', ev(1), 30)
  b.add('n2', 's', ev(1), 200)
  t.equal(b.nextDue(), 110)
  t.same(b.due(109), [])
  const due = b.due(150)
  t.same(due.map((x) => x.namespace), [undefined, 'n2', 'n1'])
  t.same(sizes(due), [1, 2, 1])
  t.equal(b.nextDue(), undefined)
  b.add(undefined, 'a', ev(1), 0)
  b.add(undefined, 'b', ev(1), 0)
  t.same(sizes(b.all()), [1, 1])
  t.equal(b.events, 0)
})
