/**
 * sqlFromText()'s short cuts (canonical integers, UTC ISO timestamps sliced
 * instead of parsed) give exactly what the general rule gives, fromText()
 * then toSql(), on the sharp edges: day overflow, leap years, years Date.UTC
 * reads as 19xx, fractions of every length, zones, spaces, signs.
 */
import t from 'tap'
import { type ColumnType, type SqlCast, fromText, parseTimestamp, sqlFromText, toSql } from '../../lib/meta/state-db-values.js'

function general (type: ColumnType, text: string): SqlCast {
  if (type === 'timestamp') {
    // a consumer's text for a timestamp column, kept to the microsecond (a Date would keep milliseconds)
    try {
      return { ok: true, value: toSql(type, text) }
    } catch (err) {
      return { ok: false, reason: (err as Error).message }
    }
  }
  const cast = fromText(type, text)
  return cast.ok ? { ok: true, value: toSql(type, cast.value) } : cast
}

const timestamps = [
  '2025-07-15T08:36:10Z', '2025-07-15 08:36:10Z', '2025-07-15T08:36:10', '2025-07-15 08:36:10',
  '2025-07-15T08:36:10.5Z', '2025-07-15T08:36:10.12Z', '2025-07-15T08:36:10.123Z', '2025-07-15T08:36:10.1239Z',
  '2025-07-15T08:36:10.123456Z', '2025-07-15T08:36:10.123456789Z', '2025-07-15T08:36:10.1234567890Z',
  '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2023-02-29T00:00:00', '1900-02-29T00:00:00Z', '2000-02-29T00:00:00Z',
  '2025-04-31T00:00:00Z', '2025-04-31T00:00:00', '2025-12-31T23:59:59Z', '2025-13-01T00:00:00Z', '2025-00-10T00:00:00Z',
  '2025-01-00T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01T23:60:00Z', '2025-01-01T23:59:60Z',
  '0050-01-01T00:00:00Z', '0099-12-31T23:59:59', '0100-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z',
  '2025-07-15t08:36:10z', '2025-07-15T08:36:10+02:00', '2025-07-15T08:36:10-0530', ' 2025-07-15T08:36:10Z', '2025-07-15T08:36:10Z ',
  '2025-07-15', '2025-07-15T08:36', 'not a time', ''
]

t.test('timestamps: the short cut is the general rule', async (t) => {
  for (const text of timestamps) t.same(sqlFromText('timestamp', text), general('timestamp', text), JSON.stringify(text))
  t.same(sqlFromText('timestamp', '2025-07-15T08:36:10Z'), { ok: true, value: '2025-07-15 08:36:10.000000' })
  t.same(sqlFromText('timestamp', '2023-02-29T00:00:00'), { ok: false, reason: '"2023-02-29T00:00:00" is not an ISO 8601 timestamp' })
  // the older short cut (the stored form itself, zone-less with six digits) keeps its microseconds, which a Date cannot hold
  t.same(sqlFromText('timestamp', '2025-07-15T08:36:10.123456'), { ok: true, value: '2025-07-15 08:36:10.123456' })
})

t.test('timestamps keep their microseconds in every form, as mmmeta (a Python datetime) keeps them', async (t) => {
  const same = '2025-07-15 08:36:10.123456'
  for (const text of ['2025-07-15T08:36:10.123456Z', '2025-07-15 08:36:10.123456Z', '2025-07-15T10:36:10.123456+02:00',
    '2025-07-15T03:06:10.123456-0530', '2025-07-15T08:36:10.123456789Z', '2025-07-15T08:36:10.1234569']) {
    t.same(sqlFromText('timestamp', text), { ok: true, value: same }, text)
    t.equal(toSql('timestamp', text), same, `${text}: a consumer's value too`)
  }
  t.same(sqlFromText('timestamp', '2025-07-15T08:36:10.1234Z'), { ok: true, value: '2025-07-15 08:36:10.123400' })
  t.same(sqlFromText('timestamp', '2025-07-15T00:30:00.000001+01:00'), { ok: true, value: '2025-07-14 23:30:00.000001' }, 'across midnight')
  t.equal(toSql('timestamp', new Date(Date.UTC(2025, 6, 15, 8, 36, 10, 123))), '2025-07-15 08:36:10.123000', 'a Date has milliseconds')
})

t.test('timestamps: every day of four years, at random times, short cut = general rule', async (t) => {
  let seed = 7
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0')
  let same = 0
  const differing: string[] = []
  for (let year = 2023; year <= 2026; year++) {
    for (let month = 1; month <= 12; month++) {
      for (let day = 1; day <= 31; day++) {
        const fraction = ['', '.' + String(next(1000)), '.' + pad(next(1000000), 6)][next(3)]
        // zone-less with six digits is the stored form, kept as written (above)
        const zone = next(2) === 0 || fraction.length === 7 ? 'Z' : ''
        const text = `${year}-${pad(month)}-${pad(day)}T${pad(next(24))}:${pad(next(60))}:${pad(next(60))}${fraction}${zone}`
        if (JSON.stringify(sqlFromText('timestamp', text)) === JSON.stringify(general('timestamp', text))) same++
        else differing.push(text)
      }
    }
  }
  t.same(differing, [])
  t.equal(same, 4 * 12 * 31)
})

t.test('integers: the short cut is the general rule', async (t) => {
  const ints = ['0', '7', '-7', '-0', '+7', '007', '12.0', '12.5', '1e3', ' 5', '5 ', '999999999999999', '-999999999999999',
    '9007199254740991', '9007199254740993', '-9007199254740993', '12345678901234567890', '', 'x']
  for (const text of ints) {
    const fast = sqlFromText('int', text)
    const slow = general('int', text)
    t.same(fast, slow, JSON.stringify(text))
    if (fast.ok && slow.ok) t.equal(typeof fast.value, typeof slow.value, `${JSON.stringify(text)}: same JS type`)
  }
  t.ok(Object.is((sqlFromText('int', '-0') as { value: unknown }).value, 0), '"-0" is stored as 0, not -0')
})

t.test('a timestamp with a field out of its range is refused, with or without a zone; years before 100 stay themselves', async (t) => {
  for (const text of ['2025-02-30T00:00:00Z', '2025-02-30T00:00:00+02:00', '2025-13-01T00:00:00', '2025-01-01T24:00:00Z', '2025-07-15T08:36:10+24:00', '2025-07-15T08:36:10+02:60']) {
    t.equal(parseTimestamp(text), null, text)
    t.equal(fromText('timestamp', text).ok, false, `${text}: refused`)
  }
  for (const text of ['2025-13-01 00:00:00.000000', '2025-02-30 00:00:00.000000', '2025-01-01T23:60:00.000000']) {
    t.equal(sqlFromText('timestamp', text).ok, false, `${text}: in the stored form, still refused`)
  }
  t.same(sqlFromText('timestamp', '2025-07-15 08:36:10.123456'), { ok: true, value: '2025-07-15 08:36:10.123456' }, 'the stored form kept as it is')
  t.equal(parseTimestamp('0050-06-01T00:00:00+01:00')?.toISOString(), '0050-05-31T23:00:00.000Z')
  t.equal(parseTimestamp('2024-02-29T12:00:00-05:30')?.toISOString(), '2024-02-29T17:30:00.000Z')
})
