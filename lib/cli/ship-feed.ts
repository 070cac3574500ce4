/**
 * How `shoebox ship` moves stdin into the shipper, and what becomes of every
 * line it read when the shipper gives up.
 *
 * stdin -> WholeLines -> stampNdjson (split2, stamp) -> shipper. A plain
 * pipeline lost lines at a give-up: those still inside the stages (split2's
 * and the stamper's buffers, stdin's read-ahead) were destroyed with them,
 * neither sent, nor spilled, nor counted. So here a shipper failure cuts
 * stdin (nothing more is read) and lets the stages run dry: what they still
 * held comes back as `leftover` (for the spill, `--spill`, or the error
 * line), and the events the shipper was told failed as `held` (a count:
 * giving up with a spill, the shipper spills what it holds itself).
 * Only a partial last line (its end never read) is left: named by its bytes.
 */
import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import type { Duplex, Readable } from 'node:stream'
import type { WholeLines } from './whole-lines.js'
import { ShoeboxError } from '../errors.js'
import type { StampedEventRecord } from '../events/stamp.js'
import type { Shipper } from '../events/ship.js'

export interface FeedOutcome {
  /** The shipper's failure, or null when it finished. */
  failure: Error | null
  /** Events (lines that were events) read from stdin. */
  read: number
  /** Of those, settled by the shipper as acknowledged. */
  acked: number
  /** Of those, refused by the shipper (invalid) or rejected by the server: never to be sent. */
  rejected: number
  /** Events in the shipper's memory when it failed and told its error (not spilled). */
  held: number
  /** Events read that never reached the shipper (still in the stages), in input order. */
  leftover: StampedEventRecord[]
  /** Bytes of a partial line read when stdin was cut (never an event). */
  partialBytes: number
  /** `stop` was aborted: stdin was cut there, and what had been read was shipped. */
  stopped: boolean
}

/**
 * Feed stdin through `lines` and `stamper` into `shipper` until the shipper
 * finishes or fails. One callback shared by every write counts which events
 * the server acknowledged, refused, or the shipper dropped from memory when
 * it failed (as cheap as no callback: no closure or event kept per write).
 * When `stop` aborts (a signal), stdin is cut as if it had ended there: the
 * whole lines read so far are shipped, a partial last one is not.
 */
export async function feedShipper (stdin: Readable, lines: WholeLines, stamper: Duplex, shipper: Shipper, stop?: AbortSignal): Promise<FeedOutcome> {
  let read = 0
  let acked = 0
  /** Events whose callback heard another error, by error: which one is the shipper's failure is known once it fails. */
  const toldError = new Map<Error, number>()
  const leftover: StampedEventRecord[] = []
  let failure: Error | null = null
  let rejected = 0
  const settled = (error?: Error | null): void => {
    if (error === null || error === undefined) acked++
    else if (isVerdict(error)) rejected++
    else toldError.set(error, (toldError.get(error) ?? 0) + 1)
  }

  const done = new Promise<void>((resolve) => {
    shipper.once('finish', resolve)
    shipper.once('error', (err: Error) => {
      failure = err
      resolve()
    })
  })
  // A stage's failure fails the shipper, as pipeline() would (and is reported as it).
  const fail = (err: Error): void => { shipper.destroy(err) }
  stdin.on('error', fail)
  lines.on('error', fail)
  stamper.on('error', fail)
  stamper.on('data', (event: StampedEventRecord) => {
    read++
    // Once the shipper is destroyed a write would only be refused: keep the event instead.
    if (failure !== null || shipper.destroyed) {
      leftover.push(event)
      return
    }
    if (!shipper.write(event, settled)) stamper.pause()
  })
  shipper.on('drain', () => { if (failure === null) stamper.resume() })
  stamper.once('end', () => { if (!shipper.destroyed) shipper.end() })
  stdin.pipe(lines).pipe(stamper)
  let stopped = false
  const onStop = (): void => {
    if (lines.writableEnded) return
    stopped = true
    stdin.unpipe(lines)
    lines.cut = true
    lines.end()
    stdin.destroy()
  }
  stop?.addEventListener('abort', onStop, { once: true })
  // Aborted before the feed began (a signal while stdin's first bytes were awaited): cut at once.
  if (stop?.aborted === true) onStop()
  await done
  stop?.removeEventListener('abort', onStop)
  const partialBytes = lines.cut ? lines.heldBytes : 0
  if (failure === null) return { failure, read, acked, rejected, held: 0, leftover: [], partialBytes, stopped }

  // Read nothing more, and let the stages run dry: what stdin has buffered (read from its
  // descriptor already) goes through them too.
  const dry = finished(stamper, { writable: false }).catch(() => {})
  stdin.unpipe(lines)
  if (!lines.writableEnded) {
    for (let chunk = stdin.read() as Buffer | null; chunk !== null; chunk = stdin.read() as Buffer | null) lines.write(chunk)
    lines.cut = true
    lines.end()
  }
  stdin.destroy()
  stamper.resume()
  await dry
  if (!shipper.closed) await once(shipper, 'close')
  // The events the shipper had in memory when it failed were told its very error (a spilled
  // event hears another: it stays in the spill for the next run).
  const held = toldError.get(failure) ?? 0
  return { failure, read, acked, rejected, held, leftover, partialBytes: lines.cut ? lines.heldBytes : 0, stopped }
}

/** Refused by the shipper or rejected by the server: never sent, whatever happens next. */
function isVerdict (error: Error): boolean {
  return error instanceof ShoeboxError && (error.code === 'SHOEBOX_EVENT_REJECTED' || error.code.startsWith('SHOEBOX_INVALID_'))
}

/**
 * Events never sent written to the spill directory, after everything spilled
 * before them: how many are on disk there, and why the others are not (a full disk).
 */
export async function spillUnsent (dir: string, namespace: string | undefined, unsent: StampedEventRecord[]): Promise<{ kept: number, failure: Error | null }> {
  const [{ Spill }, { prepareEvent, preparedText }, { shipSettings }] = await Promise.all([
    import('../events/ship-spill.js'), import('../events/ship-event.js'), import('../events/ship-options.js')])
  const { defaults } = shipSettings({ namespace })
  let failed: Error | null = null
  const spill = new Spill({ dir, onError: (err) => { failed ??= err } })
  try {
    await spill.open()
  } catch (err) {
    return { kept: 0, failure: err as Error }
  }
  for (const record of unsent) {
    // Prepared as the shipper prepares what it sends or spills (@id, @library): the same text.
    const event = prepareEvent(record, defaults)
    await new Promise<void>((resolve) => {
      spill.write(event.namespace, event.stream, preparedText(event), undefined, (err) => {
        if (err !== null && err !== undefined) failed ??= err
        resolve()
      })
    })
    if (failed !== null) break
  }
  await spill.close().catch((err: unknown) => { failed ??= err as Error })
  return { kept: spill.onDisk, failure: failed ?? spill.failure ?? null }
}
