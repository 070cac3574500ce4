/**
 * Per-file events whose listeners do work on the file: the rolling sink's
 * `sealed` (rename, move, delete, run a command, upload: the README's
 * callbacks), `recover` and `upload`; a SealedUploader's `upload` when
 * it is used on its own; archiveSource's `file`, `fileEnd`, `skipped` and
 * `corrupt` (note the file as read). Emitted as plain events, an async listener's work
 * outlived the sink: `await pipeline(src, sink)` resolved while the last
 * file was still under its old name, and a rejection after `finish` was an
 * unhandled rejection that ended the process.
 *
 * So the emitter calls these listeners through here, as emit() would (in order,
 * `this` the emitter, once() ones removed as they are called; a listener that
 * throws stops the ones after it), and keeps what they return: its end
 * (the sink's `_final`, the uploader's drain(), the source's push(null))
 * waits for them, and a throw
 * or a rejection is a SHOEBOX_LISTENER_FAILED naming the file (the
 * listener's error is its `cause`). A sync listener is called exactly when
 * it was; a listener that returns nothing costs nothing more.
 *
 * At most MAX_RUNNING events' listeners are pending at once: past that,
 * room() is a promise the emitter awaits before its next file (the file
 * chain after a seal, so writes wait on the chain's backpressure, as they do
 * for a slow disk; the uploader before its next upload; the source before
 * its next file).
 */
import type { EventEmitter } from 'node:events'
import { CallbackResults } from '../callback-results.js'
import { ShoeboxError } from '../errors.js'

/** Events (files) whose listeners may be pending at once before the sink stops sealing and writing. */
export const MAX_RUNNING = 4

export class AwaitedListeners {
  readonly #results: CallbackResults
  /** Events whose listeners returned a promise that has not settled. */
  #running = 0
  /** The chain, waiting for room (see room()). */
  #waiting: Array<() => void> = []
  #stopped = false

  /** `fail`, if given, is told of the first failure at once (to stop the work early). */
  constructor (fail?: (err: ShoeboxError) => void) {
    this.#results = new CallbackResults((err) => { fail?.(err as ShoeboxError) })
  }

  /**
   * Call `emitter`'s `name` listeners with `event`, which concerns the file
   * at `path`; `kept` says what became of the file ('the file is sealed and
   * kept'), for the error.
   */
  emit (emitter: EventEmitter, name: string, event: object, path: string, kept: string): void {
    const listeners = emitter.rawListeners(name)
    if (listeners.length === 0) return
    let results: unknown[] | undefined
    for (const listener of listeners) {
      let result: unknown
      try {
        // A once() wrapper removes itself and calls its listener with the emitter as `this`.
        result = Reflect.apply(listener, emitter, [event])
      } catch (err) {
        // As emit(): the listeners after it are not called.
        (results ??= []).push(Promise.reject(err))
        break
      }
      if (result instanceof Promise) (results ??= []).push(result)
    }
    if (results === undefined) return
    this.#running++
    const settled = Promise.allSettled(results).then((outcomes) => {
      this.#running--
      this.#wake()
      for (const outcome of outcomes) if (outcome.status === 'rejected') throw listenerFailed(name, path, kept, outcome.reason)
    })
    this.#results.keep(settled)
  }

  /** Whether settled() has anything to wait for or to throw. */
  get waiting (): boolean {
    return this.#results.waiting
  }

  /** Once every listener called so far has settled; throws the first failure. */
  async settled (): Promise<void> {
    await this.#results.settled()
  }

  /**
   * Once every listener called so far has settled: the first failure since
   * the last take(), which is then forgotten (SealedUploader's drain(), called
   * again and again: each reports what failed since the one before).
   */
  async take (): Promise<ShoeboxError | undefined> {
    return await this.#results.take() as ShoeboxError | undefined
  }

  /** Undefined while there is room for another event's listeners; else resolves once there is (or stop()). */
  room (): Promise<void> | undefined {
    if (this.#running < MAX_RUNNING || this.#stopped) return undefined
    return new Promise((resolve) => { this.#waiting.push(resolve) })
  }

  /** The sink is destroyed: nothing waits for room any more (the listeners still running are left to finish). */
  stop (): void {
    this.#stopped = true
    this.#wake()
  }

  #wake (): void {
    if (this.#running >= MAX_RUNNING && !this.#stopped) return
    const waiting = this.#waiting
    this.#waiting = []
    for (const resume of waiting) resume()
  }
}

/** A listener's throw or rejection, naming the file and what became of it; the listener's own error is the cause. */
function listenerFailed (name: string, path: string, kept: string, err: unknown): ShoeboxError {
  const message = err instanceof Error ? err.message : String(err)
  return new ShoeboxError('SHOEBOX_LISTENER_FAILED', `'${name}' listener failed for ${path} (${kept}): ${message}`, { cause: err })
}
