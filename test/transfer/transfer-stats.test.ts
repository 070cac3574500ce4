/**
 * Transfer statistics over a wall clock that jumps: rates and the time since
 * the start are counted on the monotonic clock.
 */
import t from 'tap'
import { TransferStats } from '../../lib/transfer/stats.js'
import { stepWallClockBack } from '../wall-clock.js'

t.test('a wall clock stepped back an hour (NTP, a resumed VM) is no negative elapsedMs nor a rate of bytes over a millisecond', async (t) => {
  // Stepped back an hour after its first reading (the stats' start).
  const restoreWallClock = stepWallClockBack(t)
  const stats = new TransferStats()
  stats.uploadedBytes(10_000_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  stats.uploadedBytes(10_000_000)
  const snapshot = stats.snapshot()
  restoreWallClock()
  // It said elapsedMs -3599700, averageMbPerSec 20000 (20 MB over the 1 ms the negative time was floored to).
  t.ok(Number.isInteger(snapshot.elapsedMs) && snapshot.elapsedMs >= 250 && snapshot.elapsedMs < 60_000, `elapsedMs ${snapshot.elapsedMs}`)
  t.ok(snapshot.uploaded.averageMbPerSec <= 20 / 0.25, `averageMbPerSec ${snapshot.uploaded.averageMbPerSec}: 20 MB over the time taken`)
  t.ok(snapshot.uploaded.mbPerSec <= 20 / 0.25, `mbPerSec ${snapshot.uploaded.mbPerSec}: over the window`)
  t.equal(snapshot.uploaded.bytes, 20_000_000)
})
