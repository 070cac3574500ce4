/**
 * put()'s promise that queued events leave before the process does (the
 * defect of pykronos, spec §8, was a daemon thread that lost them): a flush
 * when the event loop runs dry ('beforeExit'), and on SIGTERM an end() that
 * sends everything, then the signal again, as if it arrived now: the
 * process ends as it would have, and libraries that also listen (such as
 * signal-exit, which stands aside while another listener exists) get their
 * turn. An application with its own SIGTERM handler turns this off
 * (exitHooks: false) and calls end() itself.
 */
import type { Writable } from 'node:stream'

export class ExitFlush {
  readonly #beforeExit: () => void
  readonly #sigterm: () => void

  constructor (stream: Writable, flush: () => void) {
    this.#beforeExit = flush
    this.#sigterm = () => {
      let raised = false
      const again = (): void => {
        // A failing end() calls both its callback and the 'error' listener: raise the signal once.
        if (raised) return
        raised = true
        this.remove()
        const others = process.listenerCount('SIGTERM')
        process.kill(process.pid, 'SIGTERM')
        // Still here with nobody else listening: SIGTERM was ignored when the process started
        // (removing the last listener restores that). Exit as a shell reports a SIGTERM.
        if (others === 0) setImmediate(() => { process.exit(143) })
      }
      stream.once('error', again)
      stream.end(again)
    }
    process.on('beforeExit', this.#beforeExit)
    process.on('SIGTERM', this.#sigterm)
  }

  remove (): void {
    process.off('beforeExit', this.#beforeExit)
    process.off('SIGTERM', this.#sigterm)
  }
}
