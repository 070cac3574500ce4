/**
 * The put path's @time reader (server/time-text.ts: digits into two 32-bit
 * words, no bigint) against readTime() (event-text.ts: BigInt of the text)
 * on times around every edge: zero, -0, ±2^32, ±2^53, the range's ends and
 * one past them, 19- and 20-digit numbers, and what is not an integer.
 */
import t, { type Test } from 'tap'
import { InvalidEventTimeError, readTime } from '../../../lib/events/event-text.js'
import { MAX_KRONOS_TIME, MIN_KRONOS_TIME } from '../../../lib/events/kronos-time.js'
import { readTimeInto } from '../../../lib/events/server/time-text.js'
import { PutRows } from '../../../lib/events/store/put-rows.js'
import { mulberry32 } from '../../helpers.js'

function both (t: Test, raw: string): void {
  let expected: bigint | null | string
  try {
    expected = readTime(raw)
  } catch (err) {
    expected = `${(err as InvalidEventTimeError).name}: ${(err as InvalidEventTimeError).rawValue}`
  }
  const rows = new PutRows(2)
  let got: bigint | null | string
  try {
    got = readTimeInto(Buffer.from(`x${raw}`), 1, raw.length + 1, rows.words, 1) ? rows.times[1] : null
  } catch (err) {
    got = `${(err as InvalidEventTimeError).name}: ${(err as InvalidEventTimeError).rawValue}`
  }
  t.equal(got, expected, raw)
}

t.test('the same times and the same refusals as readTime', async (t) => {
  const edges = [0n, 1n, 9n, 10n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 53n, 2n ** 53n + 1n, 17_645_472_000_000_000n,
    MAX_KRONOS_TIME, MAX_KRONOS_TIME + 1n, -MIN_KRONOS_TIME, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n, 10n ** 19n, 10n ** 20n]
  for (const e of edges) {
    for (const v of [e, -e, e - 1n, -e + 1n, e + 1n, -e - 1n]) both(t, v.toString())
  }
  both(t, String(MIN_KRONOS_TIME))
  both(t, String(MIN_KRONOS_TIME - 1n))
  const rand = mulberry32(7)
  for (let i = 0; i < 2000; i++) {
    const digits = 1 + Math.floor(rand() * 19)
    let s = String(1 + Math.floor(rand() * 9))
    while (s.length < digits) s += String(Math.floor(rand() * 10))
    both(t, rand() < 0.3 ? `-${s}` : s)
  }
  for (const raw of ['null', '-0', '1.5', '1.0', '1e3', '"5"', 'true', '-', '0x10', `1${'0'.repeat(30)}`]) both(t, raw)
  // The first 15 digits are read as one number, the rest one by one: either side of that line.
  for (const e of [10n ** 14n, 10n ** 15n, 10n ** 16n, 10n ** 17n]) {
    for (const v of [e - 1n, e, e + 1n, -e + 1n, -e]) both(t, v.toString())
  }
  for (const raw of ['99999999999999x', '999999999999999x', '9999999999999999x', '1764547200000000.5', '176454720000000x0', `${'0'.repeat(40)}17645472000000000`, `-${'0'.repeat(16)}1`]) both(t, raw)
})
