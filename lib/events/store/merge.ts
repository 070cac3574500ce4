/**
 * A lazy k-way merge of sorted sources with a binary heap (as Kronos's
 * Cassandra backend merges its shards): one head per source in memory, so a
 * get's memory does not grow with the size of its range.
 */
export async function * mergeSorted<T> (sources: Array<AsyncIterator<T>>, compare: (a: T, b: T) => number): AsyncGenerator<T> {
  const heap: Array<{ head: T, source: AsyncIterator<T> }> = []
  try {
    for (const source of sources) {
      const first = await source.next()
      if (first.done !== true) push(heap, { head: first.value, source }, compare)
    }
    while (heap.length > 0) {
      const top = heap[0]
      yield top.head
      const next = await top.source.next()
      if (next.done === true) {
        const last = heap.pop()
        if (last !== undefined && heap.length > 0) {
          heap[0] = last
          siftDown(heap, 0, compare)
        }
      } else {
        top.head = next.value
        siftDown(heap, 0, compare)
      }
    }
  } finally {
    // A reader that stops early (limit, a closed connection) releases every source.
    await Promise.all(sources.map(async (s) => await s.return?.()))
  }
}

type Entry<T> = { head: T, source: AsyncIterator<T> }

function push<T> (heap: Array<Entry<T>>, entry: Entry<T>, compare: (a: T, b: T) => number): void {
  heap.push(entry)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (compare(heap[parent].head, heap[i].head) <= 0) break
    ;[heap[parent], heap[i]] = [heap[i], heap[parent]]
    i = parent
  }
}

function siftDown<T> (heap: Array<Entry<T>>, start: number, compare: (a: T, b: T) => number): void {
  let i = start
  for (;;) {
    const l = 2 * i + 1
    const r = l + 1
    let least = i
    if (l < heap.length && compare(heap[l].head, heap[least].head) < 0) least = l
    if (r < heap.length && compare(heap[r].head, heap[least].head) < 0) least = r
    if (least === i) return
    ;[heap[least], heap[i]] = [heap[i], heap[least]]
    i = least
  }
}
