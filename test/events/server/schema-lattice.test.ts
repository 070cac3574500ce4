/**
 * infer_schema's combine() on wide events: the required keys of two object
 * types are the sorted intersection of theirs, and finding it is linear. It
 * was quadratic (Array.includes per key): two types of 400,000 keys took
 * minutes, and infer_schema held the event loop, every client waiting, for as
 * long; this test then runs past tap's timeout.
 */
import t from 'tap'
import { combine, type SchemaType } from '../../../lib/events/server/schema-lattice.js'

function objectType (keys: string[]): SchemaType {
  return { kind: 'object', properties: new Map(keys.map((k) => [k, { kind: 'integer' }])), required: keys }
}

t.test('two types of 400,000 keys each: required is the sorted intersection, every key a property', async (t) => {
  const n = 400_000
  // a: k0..k199999 in reverse order; b: every even key of a, and as many of its own.
  const a = objectType(Array.from({ length: n }, (_, i) => `k${n - 1 - i}`))
  const b = objectType(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `k${i}` : `b${i}`)))
  const both = combine(a, b)
  if (both.kind !== 'object') throw new Error(`an object type, got ${both.kind}`)
  const expected = Array.from({ length: n / 2 }, (_, i) => `k${2 * i}`).sort()
  t.same(both.required, expected)
  t.equal(both.properties.size, n + n / 2)
  t.same(both.properties.get('b1'), { kind: 'integer' })
})
