/**
 * A user callback may be async. What one returns is settled before the
 * operation that called it returns, and its rejection fails that operation
 * with its error: left alone it was an unhandled rejection, which ends the
 * process (Node >= 15), while the operation resolved as if nothing happened.
 *
 * For call sites that cannot await (an event listener, a parse loop): call()
 * costs nothing more than the call when the callback returns no promise.
 * Used by pack() and the metadir's history replay and update.
 */
export class CallbackResults {
  readonly #fail: ((err: Error) => void) | undefined
  #pending: Array<Promise<void>> = []
  #failure: Error | undefined

  /** `fail` is told of the first rejection at once (to stop the work early). */
  constructor (fail?: (err: Error) => void) {
    this.#fail = fail
  }

  call<T> (callback: ((event: T) => unknown) | undefined, event: T): void {
    const result = callback?.(event)
    if (!(result instanceof Promise)) return
    this.#pending.push(result.catch((err: unknown) => {
      if (this.#failure !== undefined) return
      this.#failure = err instanceof Error ? err : new Error(String(err))
      this.#fail?.(this.#failure)
    }))
  }

  /** The first rejection, if any. */
  get failure (): Error | undefined {
    return this.#failure
  }

  /** Whether a returned promise is not yet settled (or not yet looked at by settled()). */
  get waiting (): boolean {
    return this.#pending.length > 0
  }

  /** Once every callback so far has settled; throws the first rejection. */
  async settled (): Promise<void> {
    const pending = this.#pending
    this.#pending = []
    await Promise.all(pending)
    if (this.#failure !== undefined) throw this.#failure
  }
}
