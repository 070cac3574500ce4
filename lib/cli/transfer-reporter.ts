/** The transfer line of the commands that touch a store, on stderr: live on a terminal, once at the end. */
import { formatStats, type TransferSnapshot } from '../transfer/stats.js'
import type { Io } from './io.js'
import { isTerminal } from './store-options.js'

/** Live transfer statistics on a terminal, redrawn every second; stop() prints the final line. */
export class TransferReporter {
  readonly #io: Io
  readonly #label: string
  readonly #snapshot: () => TransferSnapshot | undefined
  readonly #timer: ReturnType<typeof setInterval> | null

  constructor (io: Io, label: string, snapshot: () => TransferSnapshot | undefined) {
    this.#io = io
    this.#label = label
    this.#snapshot = snapshot
    this.#timer = isTerminal(io)
      ? setInterval(() => {
        const s = this.#snapshot()
        if (s !== undefined) io.stderr.write(`\r\x1b[K${label}: ${formatStats(s, 'live')}`)
      }, 1000)
      : null
    this.#timer?.unref()
  }

  /** Stop the live line; print the final one unless the command failed (its error is then the one line). */
  stop (print = true): void {
    if (this.#timer !== null) {
      clearInterval(this.#timer)
      this.#io.stderr.write('\r\x1b[K')
    }
    if (!print) return
    const s = this.#snapshot()
    if (s !== undefined) this.#io.stderr.write(`${this.#label}: ${formatStats(s)}\n`)
  }
}
