/**
 * A streamed answer whose client stops taking data is cut, as nginx's
 * `send_timeout` does: a get waits for its socket to take each chunk (the
 * 'drain' after a write that filled the buffers, the 'finish' after the
 * last one), and one that waits longer than the server's `sendTimeout`
 * (default 60 s) has its connection destroyed. Without it a client that
 * connects, asks and never reads held its get's snapshot (run files kept
 * from deletion, the memtable the texts lie in) and its connection for ever.
 * Only waiting on the client counts: a get waiting for the store, or a
 * put for its fsync, is never cut by this.
 */
import type { ServerResponse } from 'node:http'

/** Resolves true once `res` emits `event`; false if it closes first or `timeoutMs` (0: never) pass, and then it is destroyed. */
export async function sent (res: ServerResponse, event: 'drain' | 'finish', timeoutMs: number): Promise<boolean> {
  if (event === 'finish' && res.writableFinished) return true
  if (res.destroyed) return false
  return await new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer)
      res.off(event, onEvent)
      res.off('close', onClose)
      resolve(ok)
    }
    const onEvent = (): void => { finish(true) }
    const onClose = (): void => { finish(false) }
    const timer = timeoutMs > 0
      ? setTimeout(() => {
        finish(false)
        res.destroy()
      }, timeoutMs)
      : undefined
    res.on(event, onEvent)
    res.on('close', onClose)
  })
}
