/** Fifo (lib/fifo.ts): first in, first out, at any length, through the slices that drop what was taken. */
import t from 'tap'
import { Fifo } from '../lib/fifo.js'

t.test('items come out in the order they went in, across pushes and shifts interleaved past the slices', async (t) => {
  const fifo = new Fifo<number>()
  t.equal(fifo.shift(), undefined, 'empty: undefined')
  const out: number[] = []
  let next = 0
  // Uneven rounds: the queue grows past 1,024 taken (a slice), empties (a reset), and grows again.
  for (const [pushes, shifts] of [[3000, 1500], [10, 1600], [5000, 4900], [1, 10], [2500, 2500]]) {
    for (let i = 0; i < pushes; i++) fifo.push(next++)
    for (let i = 0; i < shifts; i++) {
      const item = fifo.shift()
      if (item !== undefined) out.push(item)
    }
    t.equal(fifo.length, next - out.length, `length after +${pushes} -${shifts}`)
  }
  for (let item = fifo.shift(); item !== undefined; item = fifo.shift()) out.push(item)
  t.same(out, Array.from({ length: out.length }, (_, i) => i), 'in order, none lost or repeated')
  t.equal(out.length, next, 'all taken')
  fifo.push(7)
  fifo.push(8)
  fifo.clear()
  t.equal(fifo.length, 0, 'clear() empties it')
  t.equal(fifo.shift(), undefined)
  fifo.push(9)
  t.equal(fifo.shift(), 9, 'and it takes items again')
})
