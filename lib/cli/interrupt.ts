/**
 * SIGINT and SIGTERM, and what a command's exit says after one. The rule
 * (README, "CLI reference"), kept here once:
 *
 * - A command whose job a signal cuts short (a read or decode of archives, a
 *   pack, an upload) ends cleanly, says in one line what it did and that it was
 *   interrupted, and exits 128 + the signal's number, as a shell reports a
 *   process the signal killed (130 SIGINT, 143 SIGTERM): `shoebox read ... >
 *   out && upload out` must not take a cut output for a whole one.
 * - A signal is the normal end of a command whose input may never end:
 *   `read --follow`, `serve`, and `write`, `encode`, `ship` reading stdin
 *   from a pipe or terminal (`tail -f | shoebox write`). It ends cleanly,
 *   says what it kept, and exits as at the end of its input. A regular file
 *   on stdin has an end, and a signal before it cuts the job short.
 *
 * untilInterrupted() gives a command the signals as an AbortSignal, for one
 * that must clean up when stopped: without a handler Node exits at once, so
 * a Ctrl-C of `pack` left its staging directory (archives not yet uploaded,
 * tens of MB) in the temporary directory, `unpack` a half-written temporary
 * file beside its target, and `upload` a multipart upload open on S3. The
 * library call rejects with SHOEBOX_ABORTED after its own cleanup, adding
 * what was kept; that rejection comes out as an Interrupted.
 *
 * Each handler runs once: a second Ctrl-C while the cleanup runs ends the
 * process at once, as the user asked.
 */
import { constants } from 'node:os'
import { ShoeboxError } from '../errors.js'
import { plural } from '../plural.js'
import type { Io } from './io.js'

/** The exit code of a command cut short by `signal`: 128 + its number (130 SIGINT, 143 SIGTERM). */
export function interruptedExitCode (signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal]
}

/**
 * A command cut short by a signal: main() prints the message as its one line
 * (it begins "interrupted by SIGINT" and says what was kept) and exits
 * interruptedExitCode().
 */
export class Interrupted extends ShoeboxError {
  readonly signal: NodeJS.Signals

  constructor (signal: NodeJS.Signals, message: string, options?: ErrorOptions) {
    super('SHOEBOX_ABORTED', message, options)
    this.name = 'Interrupted'
    this.signal = signal
  }
}

/**
 * The exit code of a command that stopped reading stdin at `signal`: as at
 * its end (0 here; the command's own code otherwise) for a pipe or terminal,
 * whose producer may never end, interruptedExitCode() for a regular file.
 */
export function stdinStoppedExitCode (io: Io, signal: NodeJS.Signals): number {
  return io.stdinFile === undefined ? 0 : interruptedExitCode(signal)
}

/**
 * What a command that stopped reading stdin at a signal says of the line it
 * was in the middle of (`bytes` of it read): empty when none. The signal cut
 * that line; the input's line may well be whole (it was called "an incomplete
 * last line", as if the input ended so). `kept` is what became of it ('stored',
 * 'encoded').
 */
export function lineCutBySignal (signal: string, bytes: number, kept: string): string {
  return bytes > 0 ? `, the line being read when ${signal} came (${plural(bytes, 'byte')} of it read) not ${kept}` : ''
}

/**
 * Call `onSignal` at the first SIGINT or SIGTERM, once: both handlers go
 * then, so a second signal of either kind finds none and Node's default ends
 * the process at once. Returns the removal of the handlers, for the
 * command's end (no signal came).
 */
export function onFirstSignal (onSignal: (name: NodeJS.Signals) => void): () => void {
  const off = (): void => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
  const handler = (name: NodeJS.Signals): void => {
    off()
    onSignal(name)
  }
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
  return off
}

export async function untilInterrupted<T> (run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  let signal: NodeJS.Signals | undefined
  const off = onFirstSignal((name) => {
    signal = name
    controller.abort(new ShoeboxError('SHOEBOX_ABORTED', `interrupted by ${name}`))
  })
  try {
    return await run(controller.signal)
  } catch (err) {
    // Stopped by the signal (not failed meanwhile for a reason of its own): cut short.
    if (signal !== undefined && err instanceof ShoeboxError && err.code === 'SHOEBOX_ABORTED' && !(err instanceof Interrupted)) {
      throw new Interrupted(signal, err.message, { cause: err })
    }
    throw err
  } finally {
    off()
  }
}
