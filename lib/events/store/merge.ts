/**
 * A lazy k-way merge of sorted sources with a binary heap (as Kronos's
 * Cassandra backend merges its shards). Sources hand over blocks (arrays)
 * and the merge hands out batches: awaiting once per block instead of once
 * per event keeps a long get from being dominated by promise overhead. Only
 * one block per source is held, so memory does not grow with the range.
 */
interface Cursor<T> {
  block: T[]
  i: number
  source: AsyncIterator<T[]>
}

/** Up to `batch` events at a time, in `compare` order, from sources each sorted by `compare`. */
export async function * mergeBlocks<T> (sources: Array<AsyncIterator<T[]>>, compare: (a: T, b: T) => number, batch = 1024): AsyncGenerator<T[]> {
  const heap: Array<Cursor<T>> = []
  const before = (a: Cursor<T>, b: Cursor<T>): boolean => compare(a.block[a.i], b.block[b.i]) < 0
  try {
    for (const source of sources) {
      const block = await nextBlock(source)
      if (block !== undefined) push(heap, { block, i: 0, source }, before)
    }
    let out: T[] = []
    while (heap.length > 1) {
      const top = heap[0]
      out.push(top.block[top.i++])
      if (top.i === top.block.length) {
        const block = await nextBlock(top.source)
        if (block === undefined) {
          const last = heap.pop() as Cursor<T>
          if (heap.length > 0 && last !== top) heap[0] = last
        } else {
          top.block = block
          top.i = 0
        }
      }
      if (heap.length > 0) siftDown(heap, 0, before)
      if (out.length >= batch) {
        yield out
        out = []
      }
    }
    if (out.length > 0) yield out
    // One source left: its blocks go out as they are.
    const rest = heap.pop()
    if (rest !== undefined) {
      yield rest.i === 0 ? rest.block : rest.block.slice(rest.i)
      for (let block = await nextBlock(rest.source); block !== undefined; block = await nextBlock(rest.source)) yield block
    }
  } finally {
    // A reader that stops early (limit, a closed connection) releases every source.
    await Promise.all(sources.map(async (s) => await s.return?.()))
  }
}

async function nextBlock<T> (source: AsyncIterator<T[]>): Promise<T[] | undefined> {
  for (;;) {
    const next = await source.next()
    if (next.done === true) return undefined
    if (next.value.length > 0) return next.value
  }
}

function push<T> (heap: Array<Cursor<T>>, cursor: Cursor<T>, before: (a: Cursor<T>, b: Cursor<T>) => boolean): void {
  heap.push(cursor)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (!before(heap[i], heap[parent])) break
    ;[heap[parent], heap[i]] = [heap[i], heap[parent]]
    i = parent
  }
}

function siftDown<T> (heap: Array<Cursor<T>>, start: number, before: (a: Cursor<T>, b: Cursor<T>) => boolean): void {
  let i = start
  for (;;) {
    const l = 2 * i + 1
    const r = l + 1
    let least = i
    if (l < heap.length && before(heap[l], heap[least])) least = l
    if (r < heap.length && before(heap[r], heap[least])) least = r
    if (least === i) return
    ;[heap[least], heap[i]] = [heap[i], heap[least]]
    i = least
  }
}

/**
 * The sources merged in `compare` order (or its reverse when `descending`),
 * one item per key (see distinct()), stopping after `limit` items: what
 * every read of the store returns, local runs or published ones.
 */
export async function * mergeLimited<T> (sources: Array<AsyncIterator<T[]>>, compare: (a: T, b: T) => number, descending: boolean, limit: number): AsyncGenerator<T[]> {
  const order = descending ? (a: T, b: T) => compare(b, a) : compare
  let left = limit
  for await (const batch of distinct(mergeBlocks(sources, order), order)) {
    if (batch.length >= left) {
      yield batch.slice(0, left)
      return
    }
    left -= batch.length
    yield batch
  }
}

/**
 * Sorted batches with every item equal (compare 0) to the one before it
 * left out, across batch boundaries. Items with an equal key are one item
 * (as Kronos's Cassandra backend keys events by (time, id)): a put retried
 * after its answer was lost stores the same events again, byte for byte,
 * and a read or a compaction keeps one of them.
 */
export async function * distinct<T> (batches: AsyncIterable<T[]>, compare: (a: T, b: T) => number): AsyncGenerator<T[]> {
  let last: T | undefined
  let seen = false
  for await (const batch of batches) {
    let i = 0
    if (seen) while (i < batch.length && compare(last as T, batch[i]) === 0) i++
    let j = i + 1
    while (j < batch.length && compare(batch[j - 1], batch[j]) !== 0) j++
    // The common case (no duplicate in the batch) hands the batch on as it is.
    const out = i === 0 && j >= batch.length ? batch : batch.slice(i, j)
    if (j < batch.length) {
      for (let k = j; k < batch.length; k++) if (compare(batch[k - 1], batch[k]) !== 0) out.push(batch[k])
    }
    if (batch.length > 0) {
      last = batch[batch.length - 1]
      seen = true
    }
    if (out.length > 0) yield out
  }
}

/** A sorted list as a source of mergeBlocks(): blocks of 4096. */
export async function * inBlocks<T> (list: T[]): AsyncGenerator<T[]> {
  for (let i = 0; i < list.length; i += 4096) yield list.slice(i, i + 4096)
}
