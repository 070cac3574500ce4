/**
 * What the commands that touch a store share: the --endpoint option, and a
 * transfer line on stderr (live on a terminal, once at the end).
 */
import type { StoreOptions } from '../store/open-store.js'
import { checkStoreUrl } from '../store/store-url.js'
import { formatStats, type TransferSnapshot } from '../transfer/stats.js'
import type { Io } from './io.js'
import { asUsage, type OptionSpec } from './options.js'

export const storeOptionSpec: OptionSpec = {
  endpoint: { type: 'string' }
}

export const storeOptionHelp = `  --endpoint URL        an S3-compatible endpoint (default SHOEBOX_S3_ENDPOINT, else AWS);
                        credentials and region come from the standard AWS variables/profiles`

export function storeOptionsFrom (values: Record<string, unknown>): StoreOptions {
  return typeof values.endpoint === 'string' ? { endpoint: values.endpoint } : {}
}

/**
 * A store URL, directory or glob over one, as given on the command line,
 * checked before any work: one that names no store (gs://..., s3://Bad_Name,
 * file://host/x) is a usage error, exit 2, as a bad server URL is for ship
 * and events.
 */
export function storeUrlArg (url: string): string {
  asUsage(() => { checkStoreUrl(url) })
  return url
}

export function isTerminal (io: Io): boolean {
  return io.stderr === process.stderr && process.stderr.isTTY === true
}

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
