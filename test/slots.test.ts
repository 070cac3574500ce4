/** Slots: a budget taken and given back in any amounts, takers served in order. */
import t from 'tap'
import { Slots } from '../lib/slots.js'

t.test('takers wait in order; a big one is not passed by small ones behind it', async (t) => {
  const slots = new Slots(4)
  const order: string[] = []
  await slots.take(1)
  await slots.take(1)
  const big = slots.take(4).then(() => { order.push('big') })
  const small = slots.take(1).then(() => { order.push('small') }) // 2 are free, but the big taker is first
  await new Promise((resolve) => setImmediate(resolve))
  t.same(order, [], 'both wait')
  slots.give(1)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(order, [], '3 free: not enough for the big one')
  slots.give(1)
  await big
  t.same(order, ['big'], 'all 4 free: the big one')
  slots.give(4)
  await small
  t.same(order, ['big', 'small'])
})

t.test('run() gives its slots back when the job settles, failed or not', async (t) => {
  const slots = new Slots(2)
  let running = 0
  let most = 0
  const job = async (fail: boolean): Promise<string> => {
    running++
    most = Math.max(most, running)
    await new Promise((resolve) => setTimeout(resolve, 5))
    running--
    if (fail) throw new Error('boom')
    return 'ok'
  }
  const results = await Promise.allSettled([true, false, true, false, false].map(async (fail) => await slots.run(async () => await job(fail))))
  t.equal(most, 2, 'never more than 2 at once')
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
  await slots.take(2) // all given back
  t.pass('every slot came back')
})
