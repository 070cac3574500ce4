/**
 * How long the whole body of a small answer (a put's, a JSON call's) may
 * take: twice the idle timeout. The idle timeout alone let a server that
 * trickles a byte at a time, each within it, hold the caller for ever;
 * twice, so that a body that simply stops is the idle timeout's, and says so.
 */
import { timerMs } from '../units.js'

/** Calls `expired(ms)` once the body has taken longer than twice `timeoutMs` (0: never); the cancel to call once it is read. */
export function answerDeadline (timeoutMs: number, expired: (ms: number) => void): () => void {
  const ms = 2 * timeoutMs
  if (ms <= 0) return () => {}
  const timer = setTimeout(() => { expired(ms) }, timerMs(ms))
  return () => { clearTimeout(timer) }
}
