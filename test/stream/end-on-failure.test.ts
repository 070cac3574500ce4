/**
 * endOnFailure()'s stop() and delivered: a command stopped by a signal ends
 * its output cleanly after the items already taken from upstream (none
 * after them, none lost), upstream is destroyed, and `delivered` counts what
 * went out.
 */
import { Readable } from 'node:stream'
import { once } from 'node:events'
import t from 'tap'
import { endOnFailure } from '../../lib/stream/deliver-then-fail.js'

t.test('stop(): the items taken go out, none after them; upstream is destroyed; delivered counts them', async (t) => {
  let made = 0
  const upstream = new Readable({
    objectMode: true,
    read () { this.push({ n: made++ }) }
  })
  const out = endOnFailure(upstream)
  const got: number[] = []
  for await (const item of out as AsyncIterable<{ n: number }>) {
    got.push(item.n)
    if (got.length === 10) out.stop()
  }
  t.ok(got.length >= 10, `at least the items before the stop (${got.length})`)
  t.same(got, Array.from({ length: got.length }, (_, n) => n), 'in order, none missing')
  t.equal(out.delivered, got.length, 'delivered: every item that went out')
  t.equal(out.failure, null, 'a stop is no failure')
  if (!upstream.closed) await once(upstream, 'close')
  t.ok(upstream.destroyed, 'upstream destroyed')
})

t.test('stop() after upstream ended changes nothing; an error after a stop is no failure', async (t) => {
  const ended = endOnFailure(Readable.from([1, 2, 3]))
  const all: unknown[] = []
  for await (const item of ended) all.push(item)
  ended.stop()
  t.same(all, [1, 2, 3])
  t.equal(ended.delivered, 3)

  const upstream = new Readable({ objectMode: true, read () {} })
  const out = endOnFailure(upstream)
  upstream.push('a')
  const first = await new Promise((resolve) => { out.once('data', resolve) })
  out.stop()
  upstream.emit('error', new Error('after the stop'))
  out.resume()
  await once(out, 'end')
  t.equal(first, 'a')
  t.equal(out.failure, null, 'not taken for a failure')
})
