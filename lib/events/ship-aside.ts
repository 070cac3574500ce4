/**
 * Spilled events set aside: an earlier run's events for a namespace the
 * server refuses (400 NamespaceMissing), moved out of the spill's way.
 *
 * Why: a user who mistyped the namespace and shipped with a spill has the
 * events of that run kept in the spill for the mistyped namespace. Replayed
 * first by every later run, they were refused again and stopped the run
 * before anything new was sent, on every run. Sending them to the namespace
 * the user now asks for would put them where nobody said they go; dropping
 * them would lose them. So they go to the spill's `refused` directory, a
 * spill directory of its own (the same records: namespace, stream, the text
 * sent, @id included), written and sealed (fsynced) before the spill records
 * them as settled: a crash in between leaves them in both, never in neither.
 *
 * Only an earlier run's events: this run's are what the user asks for now,
 * and a refusal of those stops the shipper as any refusal does.
 */
import path from 'node:path'
import { ShoeboxError } from '../errors.js'
import { Spill } from './ship-spill.js'

/** The spill's subdirectory that set-aside events go to. */
export const ASIDE_DIR = 'refused'

/** Where a spill's set-aside events go. */
export function asideDir (spillDir: string): string {
  return path.join(spillDir, ASIDE_DIR)
}

export interface AsideEvent {
  namespace: string | undefined
  stream: string
  text: string
}

/**
 * Write `events` to the set-aside spill in `dir` and seal it; resolves once
 * they are on disk, rejects (nothing to be settled then) if they are not.
 */
export async function setAside (dir: string, events: readonly AsideEvent[]): Promise<void> {
  let failed: Error | undefined
  const aside = new Spill({ dir, onError: (err) => { failed ??= err } })
  await aside.open()
  try {
    for (const event of events) {
      await new Promise<void>((resolve) => {
        aside.write(event.namespace, event.stream, event.text, undefined, (err) => {
          if (err !== null && err !== undefined) failed ??= err
          resolve()
        })
      })
      if (failed !== undefined) break
    }
  } finally {
    await aside.close().catch((err: unknown) => { failed ??= err as Error })
  }
  failed ??= aside.failure
  if (failed !== undefined) throw failed
  if (aside.onDisk !== events.length) throw new ShoeboxError('SHOEBOX_IO', `${dir}: only ${aside.onDisk} of ${events.length} events set aside reached the disk`)
}
