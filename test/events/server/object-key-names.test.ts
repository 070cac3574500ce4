/**
 * Stream names that are also names of Object.prototype's members
 * (`__proto__`, `constructor`, `toString`, `hasOwnProperty`) are valid
 * Kronos stream names (spec §6.2). Kronos keeps them in Python dicts, so a
 * put answers each with its count; an answer built on a plain JS object
 * lost `__proto__`, and the shipper then reported stored events rejected.
 */
import t from 'tap'
import { ship } from '../../../lib/events/ship.js'
import { del, get, json, post, start, streams } from '../conformance-kit.js'

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']

t.test('a put answers every stream by name, prototype member names included', async (t) => {
  const { url } = await start(t)
  const body = '{"events": {' + NAMES.map((name, i) => `${JSON.stringify(name)}: [{"@time": ${i + 1}, "n": ${i}}, {"@time": ${i + 1}, "n": ${i}}]`).join(', ') + '}}'
  const reply = await post(url, '/1.0/events/put', body)
  t.equal(reply.status, 200)
  const answer = json(reply)
  t.equal(answer['@success'], true)
  for (const name of NAMES) {
    t.ok(Object.hasOwn(answer, name), `the answer names ${name}`)
    t.same(answer[name], { shoebox: { num_inserted: 2 } }, `${name}: both events counted`)
    const events = await get(t, url, name, 0, 100)
    t.equal(events.length, 2, `${name}: both events stored`)
  }
  t.same((await streams(url)).sort(), [...NAMES].sort(), 'every stream listed')
  t.equal(await del(t, url, '__proto__', 0, 100), 2, 'a delete answers __proto__ by name')
  t.equal((await get(t, url, '__proto__', 0, 100)).length, 0)
})

t.test('ship() has every event of such streams acknowledged', async (t) => {
  const { url } = await start(t)
  const shipper = ship(url, { exitHooks: false })
  const errors: Array<Error | null | undefined> = []
  for (const stream of NAMES) {
    for (let i = 0; i < 3; i++) shipper.write({ stream, event: { i } }, (err) => { errors.push(err) })
  }
  await new Promise<void>((resolve, reject) => {
    shipper.once('error', reject)
    shipper.end(resolve)
  })
  t.equal(errors.length, NAMES.length * 3, 'every callback called')
  t.ok(errors.every((e) => e === null || e === undefined), 'no event reported failed')
  const stats = shipper.stats().events
  t.equal(stats.acked, NAMES.length * 3, 'every event acknowledged')
  t.equal(stats.rejected, 0)
  for (const name of NAMES) t.equal((await get(t, url, name, 0, '99999999999999999')).length, 3, `${name}: stored once each`)
})
