/** The k-way block merge: any number of sources, empty blocks, early stop. */
import t from 'tap'
import { mergeBlocks } from '../../lib/events/store/merge.js'
import { mulberry32 } from '../helpers.js'

async function * blocks (values: number[], sizes: () => number): AsyncGenerator<number[]> {
  let i = 0
  while (i < values.length) {
    const n = sizes()
    yield values.slice(i, i + n)
    i += n
  }
  yield []
}

async function collect (it: AsyncGenerator<number[]>): Promise<number[]> {
  const out: number[] = []
  for await (const batch of it) out.push(...batch)
  return out
}

t.test('merges sorted sources of random block sizes (empty blocks too), either order', async (t) => {
  const rand = mulberry32(11)
  for (const k of [0, 1, 2, 3, 7, 20]) {
    const lists = Array.from({ length: k }, () => Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 1000)).sort((a, b) => a - b))
    const all = lists.flat().sort((a, b) => a - b)
    const sizes = (): number => Math.floor(rand() * 40)
    t.same(await collect(mergeBlocks(lists.map((l) => blocks(l, sizes)), (a, b) => a - b, 17)), all, `${k} sources ascending`)
    t.same(await collect(mergeBlocks(lists.map((l) => blocks([...l].reverse(), sizes)), (a, b) => b - a, 17)), [...all].reverse(), `${k} sources descending`)
  }
})

t.test('stopping early releases every source', async (t) => {
  let released = 0
  const source = async function * (): AsyncGenerator<number[]> {
    try {
      for (let i = 0; ; i += 10) yield Array.from({ length: 10 }, (_, j) => i + j)
    } finally {
      released++
    }
  }
  for await (const batch of mergeBlocks([source(), source(), source()], (a, b) => a - b, 5)) {
    t.ok(batch.length > 0)
    break
  }
  t.equal(released, 3)
})
