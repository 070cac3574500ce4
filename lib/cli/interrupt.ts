/**
 * SIGINT and SIGTERM as an AbortSignal, for a command that must clean up
 * when stopped: without a handler Node exits at once, so a Ctrl-C of `pack`
 * left its staging directory (archives not yet uploaded, tens of MB) in the
 * temporary directory, `unpack` a half-written temporary file beside its
 * target, and `upload` a multipart upload open on S3. The signal's reason is
 * a SHOEBOX_ABORTED error naming the signal, which the library call rejects
 * with after its own cleanup, adding what was kept.
 *
 * Each handler runs once: a second Ctrl-C while the cleanup runs ends the
 * process at once, as the user asked.
 */
import { ShoeboxError } from '../errors.js'

export async function untilInterrupted<T> (run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const stop = (name: NodeJS.Signals): void => {
    controller.abort(new ShoeboxError('SHOEBOX_ABORTED', `interrupted by ${name}`))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    return await run(controller.signal)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
