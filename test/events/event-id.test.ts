/**
 * Event ids: the byte layout of spec §3.1 (the spec's own example), the
 * byte-8 mask, LOWEST/HIGHEST bounds, parse/format, time decoding over the
 * whole range, the (time, bytes 8..15) order and its sort key, and 1M ids
 * for one time all distinct.
 */
import t from 'tap'
import {
  compareEventIds, compareEventIdTexts, eventIdFromSortKey, eventIdHasTime, eventIdSortKey, eventIdTime, eventIdWords, formatEventId, highestEventId, isEventId, lowestEventId,
  newEventId, newEventIdBytes, newEventIdWords, newEventIdWordsFromDecimal, parseEventId, writeEventIdText
} from '../../lib/events/event-id.js'
import { MAX_KRONOS_TIME, MIN_KRONOS_TIME } from '../../lib/events/kronos-time.js'

function code (fn: () => unknown): string {
  try {
    return `accepted: ${String(fn())}`
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`
  }
}

t.test('layout: the spec example (kronos time 10, time 0) and the byte-8 mask', async (t) => {
  const id = newEventId(10n)
  t.match(id, /^1381400a-1dd2-11b2-8[0-9a-f]{3}-[0-9a-f]{12}$/)
  t.match(newEventId(0n), /^13814000-1dd2-11b2-8[0-9a-f]{3}-[0-9a-f]{12}$/)
  t.equal(eventIdTime(id), 10n)
  t.equal(eventIdTime('1381400a-1dd2-11b2-8091-3aeee9f530dd'), 10n, 'the id Kronos made for time 10')
  t.equal(lowestEventId(10n), '1381400a-1dd2-11b2-8000-000000000000')
  t.equal(highestEventId(10n), '1381400a-1dd2-11b2-8fff-ffffffffffff')
  for (let i = 0; i < 2000; i++) {
    const b = newEventIdBytes(BigInt(i % 7))
    if (b[8] < 0x80 || b[8] > 0x8F) t.fail(`byte 8 outside 0x80..0x8F: ${formatEventId(b)}`)
    if (b[6] >> 4 !== 1) t.fail(`version nibble is not 1: ${formatEventId(b)}`)
  }
  const ids = new Set(Array.from({ length: 200 }, () => newEventId(5n).slice(19)))
  t.equal(ids.size, 200, 'suffixes differ')
})

t.test('time decodes over the whole range, odd ticks and above 2^53', async (t) => {
  const times = [MIN_KRONOS_TIME, MIN_KRONOS_TIME + 1n, -1n, 0n, 1n, 2n ** 53n + 1n, 17_962_947_001_234_567n, MAX_KRONOS_TIME - 1n, MAX_KRONOS_TIME]
  for (const time of times) {
    const id = newEventId(time)
    t.equal(eventIdTime(id), time, `${time}`)
    t.equal(eventIdTime(parseEventId(id)), time)
    t.equal(formatEventId(parseEventId(id)), id)
    t.ok(compareEventIds(lowestEventId(time), id) < 0 && compareEventIds(id, highestEventId(time)) < 0, 'LOWEST < id < HIGHEST')
  }
  t.equal(lowestEventId(MIN_KRONOS_TIME), '00000000-0000-1000-8000-000000000000')
  t.equal(highestEventId(MAX_KRONOS_TIME), 'ffffffff-ffff-1fff-8fff-ffffffffffff')
  t.equal(code(() => newEventId(MAX_KRONOS_TIME + 1n)), 'SHOEBOX_INVALID_EVENT_TIME')
  t.equal(code(() => newEventId(MIN_KRONOS_TIME - 1n)), 'SHOEBOX_INVALID_EVENT_TIME')
})

t.test('eventIdHasTime: an id carries exactly its own time, as a number or a bigint, over the whole range', async (t) => {
  const times = [MIN_KRONOS_TIME, MIN_KRONOS_TIME + 1n, -(2n ** 53n) - 1n, -(2n ** 32n), -1n, 0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n,
    2n ** 53n + 1n, 17_962_947_001_234_567n, 2n ** 54n + 3n, MAX_KRONOS_TIME - 1n, MAX_KRONOS_TIME]
  for (let i = 0; i < 200; i++) times.push(BigInt(Math.floor(Math.random() * 2 ** 31)) * 2n ** 28n + BigInt(Math.floor(Math.random() * 2 ** 28)) + MIN_KRONOS_TIME)
  const mismatches: string[] = []
  for (const time of times) {
    const id = newEventId(time)
    for (const text of [id, id.toUpperCase()]) {
      const forms: Array<number | bigint> = [time]
      if (Number.isSafeInteger(Number(time))) forms.push(Number(time))
      for (const form of forms) {
        if (!eventIdHasTime(text, form)) mismatches.push(`${text} refused its own time ${typeof form} ${form}`)
        // Off by one tick, by one 2^32 step, and by a step Number() cannot tell from it above 2^53.
        for (const off of [1n, -1n, 2n, 2n ** 32n, -(2n ** 32n)]) {
          const other = time + off
          if (eventIdHasTime(text, other)) mismatches.push(`${text} (time ${time}) took ${other}`)
          if (Number.isSafeInteger(Number(other)) && eventIdHasTime(text, Number(other))) mismatches.push(`${text} (time ${time}) took the number ${other}`)
        }
      }
    }
  }
  t.same(mismatches, [], `${times.length} times, each against its neighbours`)
})

t.test('parse: any UUID text in any case and version; garbage refused', async (t) => {
  const upper = '1381400A-1DD2-41B2-C091-3AEEE9F530DD'
  t.equal(formatEventId(parseEventId(upper)), upper.toLowerCase())
  t.equal(eventIdTime(upper), 10n, 'the version nibble is ignored')
  t.ok(isEventId(upper))
  for (const bad of ['', 'x', '1381400a1dd211b280913aeee9f530dd', '1381400a-1dd2-11b2-8091-3aeee9f530d', '1381400a-1dd2-11b2-8091-3aeee9f530dg',
    '{1381400a-1dd2-11b2-8091-3aeee9f530dd}', '1381400a-1dd2-11b2-8091-3aeee9f530dd\n']) {
    t.equal(code(() => parseEventId(bad)), 'SHOEBOX_INVALID_EVENT_ID', JSON.stringify(bad))
    t.notOk(isEventId(bad))
  }
  t.equal(code(() => formatEventId(Buffer.alloc(15))), 'SHOEBOX_INVALID_EVENT_ID')
})

t.test('parse: every position checked (a non-hex, non-ASCII or misplaced dash anywhere is refused), every digit read', async (t) => {
  const good = '0123abcd-ef45-6789-ABCD-ef0123456789'
  t.equal(formatEventId(parseEventId(good)), good.toLowerCase())
  // '\u0130', '\u0161', '\uFF46': above 0xFF with a hex digit ('0', 'a', 'F') as the low byte.
  for (let i = 0; i < 36; i++) {
    const dash = i === 8 || i === 13 || i === 18 || i === 23
    for (const c of dash ? ['0', 'a', '_', '\u2010'] : ['-', 'g', 'G', '/', ':', '@', '`', '\u00e9', '\uff21', '\u0130', '\u0161', '\uFF46']) {
      const bad = good.slice(0, i) + c + good.slice(i + 1)
      t.notOk(isEventId(bad), `${JSON.stringify(c)} at ${i}`)
      t.equal(code(() => parseEventId(bad)), 'SHOEBOX_INVALID_EVENT_ID')
    }
    if (!dash) {
      // each digit lands in its own nibble: changing it changes exactly that nibble
      const other = good[i] === 'f' ? '0' : 'f'
      const changed = good.slice(0, i) + other + good.slice(i + 1)
      t.equal(formatEventId(parseEventId(changed)), changed.toLowerCase())
    }
  }
})

t.test('order: time first, then bytes 8..15 unsigned; the sort key agrees', async (t) => {
  // time_low comes first in the text, so string order is wrong where time_low wraps to 0.
  const wrap = 2n ** 32n - 0x13814000n
  const a = lowestEventId(wrap - 1n)
  const b = lowestEventId(wrap)
  t.ok(a > b, 'canonical text sorts the wrong way here')
  t.ok(compareEventIds(a, b) < 0)
  t.ok(Buffer.compare(eventIdSortKey(a), eventIdSortKey(b)) < 0)
  t.ok(eventIdSortKey(a).toString('hex') < eventIdSortKey(b).toString('hex'))
  const tie1 = '1381400a-1dd2-11b2-8000-00000000000f'
  const tie2 = '1381400a-1dd2-11b2-80f0-000000000000'
  t.ok(compareEventIds(tie1, tie2) < 0)
  t.equal(compareEventIds(tie1, tie1), 0)
  t.ok(compareEventIds(tie2, tie1) > 0, 'descending is the exact reverse')
  const ids: string[] = []
  const times = [MIN_KRONOS_TIME, -5n, 0n, 1n, 2n ** 32n - 0x13814001n, 2n ** 32n - 0x13814000n, 2n ** 32n, 2n ** 53n + 1n, 17_000_000_000_000_000n, MAX_KRONOS_TIME]
  for (const time of times) for (let i = 0; i < 20; i++) ids.push(newEventId(time))
  ids.push(...times.flatMap((time) => [lowestEventId(time), highestEventId(time)]))
  const byCompare = [...ids].sort(compareEventIds)
  const byKey = [...ids].sort((x, y) => Buffer.compare(eventIdSortKey(x), eventIdSortKey(y)))
  const byHex = [...ids].sort((x, y) => {
    const hx = eventIdSortKey(x).toString('hex')
    const hy = eventIdSortKey(y).toString('hex')
    return hx < hy ? -1 : hx > hy ? 1 : 0
  })
  t.same(byKey, byCompare)
  t.same(byHex, byCompare)
  for (let i = 1; i < byCompare.length; i++) {
    if (eventIdTime(byCompare[i - 1]) > eventIdTime(byCompare[i])) t.fail('time first')
  }
  for (const id of ids) if (eventIdFromSortKey(eventIdSortKey(id)) !== id) t.fail(`sort key round trip ${id}`)
  t.equal(code(() => eventIdFromSortKey(Buffer.alloc(3))), 'SHOEBOX_INVALID_EVENT_ID')
})

t.test('compareEventIdTexts orders as compareEventIds (any case, version digit ignored), and says whether the times differ', async (t) => {
  const times = [MIN_KRONOS_TIME, -5n, 0n, 1n, 2n ** 32n - 0x13814001n, 2n ** 32n - 0x13814000n, 2n ** 32n, 2n ** 48n, 2n ** 53n + 1n, 17_000_000_000_000_000n, MAX_KRONOS_TIME]
  const ids = times.flatMap((time) => [lowestEventId(time), newEventId(time), newEventId(time), highestEventId(time)])
  ids.push(ids[5].toUpperCase(), `${ids[5].slice(0, 14)}4${ids[5].slice(15)}`)
  const sign = (n: number): number => n < 0 ? -1 : n > 0 ? 1 : 0
  let pairs = 0
  for (const a of ids) {
    for (const b of ids) {
      const c = compareEventIdTexts(a, b)
      if (sign(c) !== sign(compareEventIds(a, b))) t.fail(`${a} vs ${b}: ${c}, compareEventIds ${compareEventIds(a, b)}`)
      if ((Math.abs(c) === 2) !== (eventIdTime(a) !== eventIdTime(b))) t.fail(`${a} vs ${b}: ${c} says the times ${Math.abs(c) === 2 ? 'differ' : 'agree'}`)
      pairs++
    }
  }
  t.equal(pairs, ids.length ** 2)
  t.equal(compareEventIdTexts(ids[5], ids[5].toUpperCase()), 0, 'upper-case hex is the same id')
  t.equal(compareEventIdTexts(ids[5], `${ids[5].slice(0, 14)}4${ids[5].slice(15)}`), 0, 'the version digit does not count')
  t.equal(compareEventIdTexts('1381400a-1dd2-11b2-8000-00000000000f', '1381400a-1dd2-11b2-80f0-000000000000'), -1, 'the same time, suffixes differ')
})

t.test('1M ids for one time are distinct, inside LOWEST..HIGHEST, and sort after an earlier time', async (t) => {
  const time = 17_962_947_001_234_567n
  const n = 1_000_000
  const suffixes = new BigUint64Array(n)
  const lowest = parseEventId(lowestEventId(time)).readBigUInt64BE(8)
  const highest = parseEventId(highestEventId(time)).readBigUInt64BE(8)
  let outside = 0
  for (let i = 0; i < n; i++) {
    const b = newEventIdBytes(time)
    // Interleave other times, as a real stream would.
    if (i % 1000 === 0) newEventIdBytes(time - 1n)
    const s = b.readBigUInt64BE(8)
    if (s <= lowest || s >= highest) outside++
    suffixes[i] = s
  }
  t.equal(outside, 0)
  suffixes.sort()
  let repeats = 0
  for (let i = 1; i < n; i++) if (suffixes[i] === suffixes[i - 1]) repeats++
  t.equal(repeats, 0, 'no id repeats')
  t.ok(compareEventIds(highestEventId(time - 1n), newEventId(time)) < 0)
  t.ok(compareEventIds(newEventId(time), lowestEventId(time + 1n)) < 0)
})

t.test('ids for one time keep increasing with 2047 other times used in between', async (t) => {
  // The per-time memory holds at least the last 2048 times (two generations, see event-id.ts).
  const time = 987_654_321n
  let other = 1_000_000n
  let last = newEventId(time)
  let outOfOrder = 0
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 2047; i++) newEventIdBytes(other++)
    const next = newEventId(time)
    if (compareEventIds(last, next) >= 0) outOfOrder++
    last = next
  }
  t.equal(outOfOrder, 0)
})

t.test('ids for one time come out increasing, with other times in between', async (t) => {
  // Random suffixes would be out of order half the time: this shows the per-time memory works.
  const time = 123_456_789n
  let last = newEventId(time)
  let outOfOrder = 0
  for (let i = 0; i < 10_000; i++) {
    newEventId(BigInt(i))
    const next = newEventId(time)
    if (compareEventIds(last, next) >= 0) outOfOrder++
    last = next
  }
  t.equal(outOfOrder, 0)
})

t.test('the shipper\'s form: an id from @time digits (no bigint) carries the same time as the bigint form, above 2^53 too', async (t) => {
  const offsetLow = 0x13814000n
  const times = [0n, 1n, 9n, 10n ** 9n - 1n, 10n ** 9n, 2n ** 32n - offsetLow - 1n, 2n ** 32n - offsetLow, 2n ** 32n, 2n ** 48n + 12345n,
    2n ** 53n - 1n, 2n ** 53n + 1n, 17_645_472_000_000_000n, 17_962_947_001_234_567n, 10n ** 17n - 1n]
  // Seeded extra times spread over 1..17 digits.
  let seed = 12345
  for (let i = 0; i < 2000; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    const digits = 1 + (seed % 17)
    let text = ''
    for (let d = 0; d < digits; d++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      text += String((seed >>> 16) % 10)
    }
    times.push(BigInt(text))
  }
  const text = Buffer.alloc(36)
  let wrong = 0
  for (const time of times) {
    newEventIdWordsFromDecimal(Number(time / 1_000_000_000n), Number(time % 1_000_000_000n))
    const words = [...eventIdWords]
    writeEventIdText(text, 0, words[0], words[1], words[2], words[3])
    const id = text.toString('latin1')
    newEventIdWords(time)
    if (!isEventId(id) || eventIdTime(id) !== time || words[0] !== eventIdWords[0] || words[1] !== eventIdWords[1]) wrong++
    const b = parseEventId(id)
    if (b[8] < 0x80 || b[8] > 0x8F || b[6] >> 4 !== 1) wrong++
    if (formatEventId(b) !== id) wrong++
  }
  t.equal(wrong, 0, `${times.length} times`)
})

t.test('the shipper\'s form and the bigint form share the never-repeat memory: ids of one time increase across both', async (t) => {
  const time = 17_645_472_000_000_123n
  const text = Buffer.alloc(36)
  const made: string[] = []
  let other = 17_000_000_000_000_000n
  for (let i = 0; i < 30_000; i++) {
    if (i % 3 === 0) {
      made.push(newEventId(time))
    } else {
      newEventIdWordsFromDecimal(Number(time / 1_000_000_000n), Number(time % 1_000_000_000n))
      writeEventIdText(text, 0, eventIdWords[0], eventIdWords[1], eventIdWords[2], eventIdWords[3])
      made.push(text.toString('latin1'))
    }
    // Other times in between, through both forms: the tables fill, collide and change generation.
    other += 7n
    if (i % 2 === 0) newEventIdWords(other)
    else newEventIdWordsFromDecimal(Number(other / 1_000_000_000n), Number(other % 1_000_000_000n))
  }
  let outOfOrder = 0
  for (let i = 1; i < made.length; i++) if (compareEventIds(made[i - 1], made[i]) >= 0) outOfOrder++
  t.equal(outOfOrder, 0, `${made.length} ids, strictly increasing`)
  t.equal(new Set(made).size, made.length, 'none repeats')
})

t.test('writeEventIdText writes what formatEventId returns, at any offset', async (t) => {
  const buf = Buffer.alloc(100, 0x78)
  for (let i = 0; i < 500; i++) {
    const bytes = newEventIdBytes(BigInt(i) * 1_000_003n)
    if (i % 5 === 0) bytes.fill(i % 2 === 0 ? 0xFF : 0x00, 0, 8)
    const w = [0, 4, 8, 12].map((at) => bytes.readUInt32BE(at))
    const at = i % 60
    t.equal(writeEventIdText(buf, at, w[0], w[1], w[2], w[3]), at + 36)
    if (buf.toString('latin1', at, at + 36) !== formatEventId(bytes)) t.fail(formatEventId(bytes))
  }
})
