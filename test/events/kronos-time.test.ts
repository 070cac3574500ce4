/**
 * Kronos time: exact bigint conversions (above 2^53, odd ticks, negative
 * times), ISO with offsets both ways, and the range an event id can hold.
 */
import t from 'tap'
import {
  checkKronosTime, formatKronosTime, kronosTimeFromDate, kronosTimeFromIso, kronosTimeFromMs, kronosTimeFromSeconds,
  kronosTimeNow, kronosTimeToDate, kronosTimeToIso, kronosTimeToMs, MAX_KRONOS_TIME, MIN_KRONOS_TIME, parseKronosTime,
  toKronosTime, UUID_EPOCH_OFFSET
} from '../../lib/events/kronos-time.js'

function code (fn: () => unknown): string {
  try {
    return `accepted: ${String(fn())}`
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`
  }
}

t.test('the range is [-offset, 2^60 - offset)', async (t) => {
  t.equal(MIN_KRONOS_TIME, -0x01B21DD213814000n)
  t.equal(MAX_KRONOS_TIME, 2n ** 60n - UUID_EPOCH_OFFSET - 1n)
  t.equal(checkKronosTime(MIN_KRONOS_TIME), MIN_KRONOS_TIME)
  t.equal(checkKronosTime(MAX_KRONOS_TIME), MAX_KRONOS_TIME)
  t.equal(code(() => checkKronosTime(MIN_KRONOS_TIME - 1n)), 'SHOEBOX_INVALID_EVENT_TIME')
  t.equal(code(() => checkKronosTime(MAX_KRONOS_TIME + 1n)), 'SHOEBOX_INVALID_EVENT_TIME')
  t.equal(code(() => parseKronosTime((MAX_KRONOS_TIME + 1n).toString())), 'SHOEBOX_INVALID_EVENT_TIME')
  t.equal(kronosTimeToIso(MIN_KRONOS_TIME), '1582-10-15T00:00:00.0000000Z', 'the UUID epoch')
  t.equal(kronosTimeToIso(MAX_KRONOS_TIME), '5236-03-31T21:21:00.6846975Z')
  t.equal(kronosTimeFromIso('1582-10-15T00:00:00Z'), MIN_KRONOS_TIME)
  t.equal(code(() => kronosTimeFromIso('1582-10-14T23:59:59.9999999Z')), 'SHOEBOX_INVALID_EVENT_TIME')
})

t.test('decimal text round trips exactly above 2^53 and at odd ticks', async (t) => {
  for (const v of [0n, 1n, -1n, 17_000_000_000_000_001n, 2n ** 53n + 1n, 17_962_947_001_234_567n, MAX_KRONOS_TIME, MIN_KRONOS_TIME]) {
    const text = formatKronosTime(v)
    t.equal(text, v.toString())
    t.equal(parseKronosTime(text), v, text)
    t.equal(kronosTimeFromIso(kronosTimeToIso(v)), v, `ISO round trip ${text}`)
    t.equal(toKronosTime(text), v)
  }
  for (const bad of ['', '1.5', '1e3', '0x10', 'abc', '- 1', '+1']) {
    t.equal(code(() => parseKronosTime(bad)), 'SHOEBOX_INVALID_EVENT_TIME', JSON.stringify(bad))
  }
})

t.test('Date, ms and seconds are exact', async (t) => {
  const d = new Date('2026-12-03T10:45:00.123Z')
  t.equal(kronosTimeFromDate(d), BigInt(d.getTime()) * 10000n)
  t.equal(kronosTimeToDate(kronosTimeFromDate(d)).getTime(), d.getTime())
  t.equal(kronosTimeFromMs(1), 10_000n)
  t.equal(kronosTimeFromMs(1.5), 15_000n)
  t.equal(kronosTimeFromMs(0.00001), 0n, 'below a tick truncates')
  t.equal(kronosTimeFromMs(-1.00005), -10_000n, 'truncates toward zero')
  t.equal(kronosTimeFromMs(1_700_000_000_000n), 17_000_000_000_000_000n)
  t.equal(kronosTimeFromSeconds(1_700_000_000.1234567), 17_000_000_001_234_567n, 'the number\'s decimal text, not a float product')
  t.equal(kronosTimeFromSeconds('1700000000.12345678'), 17_000_000_001_234_567n)
  t.equal(kronosTimeFromSeconds(1e-7), 1n)
  t.equal(kronosTimeFromSeconds(-2n), -20_000_000n)
  t.equal(code(() => kronosTimeFromSeconds(Number.NaN)), 'SHOEBOX_INVALID_EVENT_TIME')
  t.equal(code(() => kronosTimeFromSeconds('1,5')), 'SHOEBOX_INVALID_EVENT_TIME')
  t.equal(code(() => kronosTimeFromDate(new Date(Number.NaN))), 'SHOEBOX_INVALID_EVENT_TIME')
  t.equal(code(() => kronosTimeFromSeconds(1e300)), 'SHOEBOX_INVALID_EVENT_TIME')
  t.equal(kronosTimeToMs(17_000_000_000_009_999n), 1_700_000_000_000, 'floored')
  t.equal(kronosTimeToMs(-1n), -1, 'floored toward minus infinity')
  t.equal(kronosTimeToIso(-1n), '1969-12-31T23:59:59.9999999Z')
  const before = BigInt(Date.now()) * 10000n
  const now = kronosTimeNow()
  t.ok(now >= before && now <= BigInt(Date.now()) * 10000n, 'now is the clock')
})

t.test('ISO 8601: offsets, naive = UTC, fractions to 100 ns', async (t) => {
  const base = 17_962_947_000_000_000n // 2026-12-03T10:45:00Z
  const cases: Array<[string, bigint]> = [
    ['2026-12-03T10:45:00Z', base],
    ['2026-12-03T10:45:00', base],
    ['2026-12-03 10:45:00', base],
    ['2026-12-03T10:45Z', base],
    ['2026-12-03T11:45:00+01:00', base],
    ['2026-12-03T11:45:00+0100', base],
    ['2026-12-03T11:45:00+01', base],
    ['2026-12-03T05:15:00-05:30', base],
    ['2026-12-04T00:15:00+13:30', base],
    ['2026-12-03T10:45:00.1234567Z', base + 1_234_567n],
    ['2026-12-03T10:45:00.123456789Z', base + 1_234_567n],
    ['2026-12-03T10:45:00,5Z', base + 5_000_000n],
    ['2026-12-03', base - (10n * 3600n + 45n * 60n) * 10_000_000n],
    ['1970-01-01T00:00:00Z', 0n],
    ['1969-12-31T23:59:59.9999999Z', -1n],
    ['2000-02-29T00:00:00Z', BigInt(Date.UTC(2000, 1, 29)) * 10_000n]
  ]
  for (const [iso, want] of cases) t.equal(kronosTimeFromIso(iso), want, iso)
  t.equal(kronosTimeToIso(base + 1n), '2026-12-03T10:45:00.0000001Z')
  t.equal(toKronosTime('2026-12-03T10:45:00Z'), base)
  t.equal(toKronosTime(new Date('2026-12-03T10:45:00Z')), base)
  t.equal(toKronosTime(10), 10n)
  t.equal(code(() => toKronosTime(2 ** 60)), 'SHOEBOX_INVALID_EVENT_TIME', 'an unsafe number is refused, not rounded')
  for (const bad of ['2026-13-01', '2026-02-29', '2026-12-03T24:00:00Z', '2026-12-03T10:60Z', '2026-12-03T10:45:00+25:00',
    '26-12-03', '2026-12-03T10', 'yesterday', '2026-12-03T10:45:00 +01:00 x']) {
    t.equal(code(() => kronosTimeFromIso(bad)), 'SHOEBOX_INVALID_EVENT_TIME', bad)
  }
  // Every day of a leap cycle round-trips through ISO.
  for (let day = -800n; day < 800n; day += 7n) {
    const v = day * 864_000_000_000n + 123n
    t.equal(kronosTimeFromIso(kronosTimeToIso(v)), v)
  }
})
