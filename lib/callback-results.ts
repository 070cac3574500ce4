/**
 * A user callback may be async. What one returns is settled before the
 * operation that called it returns, and its rejection fails that operation
 * with its error: left alone it was an unhandled rejection, which ends the
 * process (Node >= 15), while the operation resolved as if nothing happened.
 *
 * For call sites that cannot await (an event listener, a parse loop): call()
 * costs nothing more than the call when the callback returns no promise.
 * Used by pack(), the metadir's history replay and update, and the listeners
 * whose work a stream awaits (stream/awaited-listeners.ts).
 */
export class CallbackResults {
  readonly #fail: ((err: Error) => void) | undefined
  /** Promises not yet settled; each leaves once it has (a sink that runs for days keeps no trail of them). */
  readonly #pending = new Set<Promise<void>>()
  #failure: Error | undefined

  /** `fail` is told of the first rejection at once (to stop the work early). */
  constructor (fail?: (err: Error) => void) {
    this.#fail = fail
  }

  call<T> (callback: ((event: T) => unknown) | undefined, event: T): void {
    const result = callback?.(event)
    if (result instanceof Promise) this.keep(result)
  }

  /** Settle `result` with the rest: its rejection is the failure, if it is the first. */
  keep (result: Promise<unknown>): void {
    const kept: Promise<void> = result.then(() => { this.#pending.delete(kept) }, (err: unknown) => {
      this.#pending.delete(kept)
      if (this.#failure !== undefined) return
      this.#failure = err instanceof Error ? err : new Error(String(err))
      this.#fail?.(this.#failure)
    })
    this.#pending.add(kept)
  }

  /** The first rejection, if any. */
  get failure (): Error | undefined {
    return this.#failure
  }

  /** Whether settled() has anything to wait for or to throw: a returned promise not yet settled, or a rejection. */
  get waiting (): boolean {
    return this.#pending.size > 0 || this.#failure !== undefined
  }

  /** Once every callback so far has settled; throws the first rejection. */
  async settled (): Promise<void> {
    await Promise.all(this.#pending)
    if (this.#failure !== undefined) throw this.#failure
  }

  /**
   * Once every callback so far has settled: the first rejection since the
   * last take(), which is then forgotten (a caller that reports failures
   * again and again, each once: SealedUploader's drain()).
   */
  async take (): Promise<Error | undefined> {
    await Promise.all(this.#pending)
    const failure = this.#failure
    this.#failure = undefined
    return failure
  }
}
