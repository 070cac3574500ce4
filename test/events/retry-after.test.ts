/** Retry-After as the client and the shipper read it: delay-seconds or an HTTP date, capped; anything else ignored. */
import t from 'tap'
import { parseRetryAfter } from '../../lib/events/retry-after.js'

t.test('seconds or an HTTP date, capped, garbage ignored', async (t) => {
  t.equal(parseRetryAfter('2', 300_000), 2000)
  t.equal(parseRetryAfter(' 0.5 ', 300_000), 500)
  t.equal(parseRetryAfter(new Date(10_000 + 3000).toUTCString(), 300_000, 10_000), 3000)
  t.equal(parseRetryAfter(new Date(0).toUTCString(), 300_000, 10_000), 0, 'a date past is now')
  t.equal(parseRetryAfter('99999', 300_000), 300_000, 'at most the cap')
  t.equal(parseRetryAfter('1000000000', 60_000), 60_000, '10^9 seconds: the cap')
  for (const garbage of ['soon', '', '   ', '-5', '-1', '1e3', '0x10', '+3', undefined]) {
    t.equal(parseRetryAfter(garbage, 300_000), undefined, JSON.stringify(garbage))
  }
})
