/**
 * Work on the items of an iterable, at most `limit` at once, the results in
 * the items' order. The items are taken one at a time as slots free up (a
 * memtable's streams are made as they are taken), and after a failure no new
 * one is begun: the call waits for those in flight, then throws the first
 * error, so the caller cleans up knowing nothing of it still runs.
 *
 * Why: a flush of 10,000 one-event streams wrote its run files one after the
 * other, each a round trip through the thread pool and an fsync; with several
 * in flight the fsyncs overlap (bench/RESULTS.md, "serve: many streams").
 */
export async function inParallel<T, R> (items: Iterable<T>, limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  const iterator = items[Symbol.iterator]()
  let failure: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined) {
      const at = results.length
      try {
        const next = iterator.next()
        if (next.done === true) return
        results.push(undefined as R)
        results[at] = await work(next.value)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker))
  if (failure !== undefined) throw failure.error
  return results
}
