/**
 * parseSize and parseDuration, the units every option accepts: what each
 * value means, and that a negative, unitless (other than 0) or garbage value
 * is refused with SHOEBOX_INVALID_OPTION naming the option.
 */
import buffer from 'node:buffer'
import t from 'tap'
import { parseDuration, parseSize } from '../lib/index.js'

function refusal (fn: () => unknown): string {
  try {
    return `accepted: ${String(fn())}`
  } catch (err) {
    return `${(err as { code?: string }).code ?? 'no code'}: ${(err as Error).message}`
  }
}

t.test('parseDuration: 0 in every spelling is 0 (flushInterval: off)', async (t) => {
  for (const zero of [0, '0', ' 0 ', '00', '0.0', '0ms', '0s', '0m', '0h0m']) {
    t.equal(parseDuration(zero, 'flushInterval'), 0, JSON.stringify(zero))
  }
})

t.test('parseDuration: units and sums', async (t) => {
  const cases: Array<[number | string, number]> = [
    [250, 250], [1.5, 1.5], ['250ms', 250], ['30s', 30_000], ['10m', 600_000], ['1h', 3_600_000],
    ['1d', 86_400_000], ['1h30m', 5_400_000], ['1.5s', 1500], [' 2S ', 2000]
  ]
  for (const [value, ms] of cases) t.equal(parseDuration(value), ms, JSON.stringify(value))
})

t.test('parseDuration: negative, unitless and garbage values are refused naming the option', async (t) => {
  for (const bad of [-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.match(refusal(() => parseDuration(bad, 'flushInterval')),
      /^SHOEBOX_INVALID_OPTION: option flushInterval: must be a non-negative number of milliseconds/, String(bad))
  }
  for (const bad of ['-1s', '-0', '1', '5', '0.5', '', '  ', 'abc', '1x', '1s 2', 's', '0x10', '1e3ms', '∞']) {
    t.match(refusal(() => parseDuration(bad, 'flushInterval')),
      /^SHOEBOX_INVALID_OPTION: option flushInterval: expected a duration such as 10m, 1h, 30s or 250ms, got "/, JSON.stringify(bad))
  }
  t.match(refusal(() => parseDuration('5', 'flushInterval')), /got "5" \(a number other than 0 needs a unit: ms, s, m, h or d\)$/)
})

t.test('parseSize: units, and refusals naming the option', async (t) => {
  const cases: Array<[number | string, number]> = [
    [0, 0], ['0', 0], [4096, 4096], [1.9, 1], ['4096', 4096], ['64k', 65_536], ['10MB', 10_000_000],
    ['100MiB', 104_857_600], ['1.5GB', 1_500_000_000], ['1g', 1024 ** 3], [' 2 kib ', 2048]
  ]
  for (const [value, bytes] of cases) t.equal(parseSize(value), bytes, JSON.stringify(value))
  for (const bad of [-1, Number.NaN]) t.match(refusal(() => parseSize(bad, 'blockSize')), /^SHOEBOX_INVALID_OPTION: option blockSize: must be a non-negative number of bytes/)
  for (const bad of ['-1', '', 'abc', '10 MiBs', '1e3']) {
    t.match(refusal(() => parseSize(bad, 'blockSize')), /^SHOEBOX_INVALID_OPTION: option blockSize: expected a size such as 100MiB/, JSON.stringify(bad))
  }
})

t.test('parseSize: the least an option takes, no more than a safe integer, the value quoted as given (givenValue)', async (t) => {
  t.equal(parseSize('1KiB', 'maxRecordSize', 26), 1024)
  t.equal(parseSize(26, 'maxRecordSize', 26), 26)
  t.equal(parseSize(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER)
  for (const [value, least, reason] of [
    ['25B', 26, 'must be at least 26 bytes, got "25B" (25 bytes)'],
    [25, 26, 'must be at least 26 bytes, got 25'],
    [0, 1, 'must be at least 1 byte, got 0'],
    ['99999999999999999999', 0, 'must be at most 9007199254740991 bytes, got "99999999999999999999"'],
    ['9PiB', 0, 'expected a size such as 100MiB, 10MB or 4096, got "9PiB"'],
    [2 ** 60, 0, `must be at most 9007199254740991 bytes, got ${2 ** 60}`],
    ['ten', 0, 'expected a size such as 100MiB, 10MB or 4096, got "ten"'],
    [null, 0, 'expected a size such as 100MiB, 10MB or 4096, got null'],
    [{ size: 1 }, 0, 'expected a size such as 100MiB, 10MB or 4096, got {"size":1}'],
    [Number.NEGATIVE_INFINITY, 0, 'must be a non-negative number of bytes, got -Infinity']
  ] as const) {
    t.equal(refusal(() => parseSize(value as string, 'maxRecordSize', least)), `SHOEBOX_INVALID_OPTION: option maxRecordSize: ${reason}`, JSON.stringify(value))
  }
  t.equal(refusal(() => parseDuration('often', 'pollInterval')), 'SHOEBOX_INVALID_OPTION: option pollInterval: expected a duration such as 10m, 1h, 30s or 250ms, got "often"')
  t.equal(refusal(() => parseDuration(-1, 'pollInterval')), 'SHOEBOX_INVALID_OPTION: option pollInterval: must be a non-negative number of milliseconds, got -1')
})

t.test('sizeOption, durationOption, positiveCount: undefined takes the default, null is refused as a value', async (t) => {
  const { sizeOption, durationOption, positiveCount } = await import('../lib/units.js')
  t.equal(sizeOption(undefined, '1MiB', 'blockSize'), 1024 * 1024)
  t.equal(sizeOption('2KiB', '1MiB', 'blockSize'), 2048)
  t.equal(durationOption(undefined, '10s', 'timeout'), 10_000)
  t.equal(positiveCount(undefined, 3, 'attempts'), 3)
  t.equal(refusal(() => sizeOption(null, '1MiB', 'blockSize')), 'SHOEBOX_INVALID_OPTION: option blockSize: expected a size such as 100MiB, 10MB or 4096, got null')
  t.equal(refusal(() => durationOption(null, '10s', 'timeout')), 'SHOEBOX_INVALID_OPTION: option timeout: expected a duration such as 10m, 1h, 30s or 250ms, got null')
  t.equal(refusal(() => positiveCount(null, 3, 'attempts')), 'SHOEBOX_INVALID_OPTION: option attempts: must be a positive integer, got null')
  t.equal(refusal(() => sizeOption('1KiB', 0, 'maxRecordSize', 2048)), 'SHOEBOX_INVALID_OPTION: option maxRecordSize: must be at least 2048 bytes, got "1KiB" (1024 bytes)')
})

t.test('a size or duration refused by a bound checked after parsing quotes what was typed, and what it came to when it had a unit', async (t) => {
  const { openStore } = await import('../lib/index.js')
  const { serveEvents } = await import('../lib/events/server/serve-events.js')
  const data = '/nonexistent/shoebox-given-size-test' // nothing is created: each is refused before
  const writer = (partSize: number | string): unknown => openStore('s3://bucket-x').writer('k', { partSize })
  t.equal(refusal(() => writer('1KiB')), 'SHOEBOX_INVALID_OPTION: option partSize: must be at least 5MiB (S3\'s minimum part), got "1KiB" (1024 bytes)')
  t.equal(refusal(() => writer(1024)), 'SHOEBOX_INVALID_OPTION: option partSize: must be at least 5MiB (S3\'s minimum part), got 1024')
  // Above S3's largest part (5 GiB) or a Buffer's: refused at once, not after the first part was filled.
  const largest = Math.min(5 * 1024 ** 3, buffer.constants.MAX_LENGTH)
  t.match(refusal(() => writer('6GiB')), /^SHOEBOX_INVALID_OPTION: option partSize: must be at most \d+ bytes \(S3's largest part is 5GiB, and a part is held in one Buffer\), got "6GiB" \(6442450944 bytes\)$/)
  const { s3WriterSettings } = await import('../lib/store/s3-config.js')
  t.equal(s3WriterSettings({ partSize: largest }).partSize, largest, 'the largest part there can be is taken')
  t.match(refusal(() => writer(largest + 1)), /must be at most/)
  await t.rejects(serveEvents({ data, maxBody: '1TB' }), { code: 'SHOEBOX_INVALID_OPTION', option: 'maxBody', reason: 'must be at most 256MiB (a put\'s body is held in memory while it is stored), got "1TB" (1000000000000 bytes)' })
  await t.rejects(serveEvents({ data, maxBody: 2 ** 30 }), { code: 'SHOEBOX_INVALID_OPTION', option: 'maxBody', reason: `must be at most 256MiB (a put's body is held in memory while it is stored), got ${2 ** 30}` })
  await t.rejects(serveEvents({ data, sendTimeout: '30d' }), { code: 'SHOEBOX_INVALID_OPTION', option: 'sendTimeout', reason: 'must be at most 2147483647 ms (a timer\'s limit), got "30d" (2592000000 ms)' })
  await t.rejects(serveEvents({ data, headersTimeout: '20s', requestTimeout: '10s' }), { code: 'SHOEBOX_INVALID_OPTION', option: 'requestTimeout', reason: 'must be at least headersTimeout (20000 ms), got "10s" (10000 ms)' })
})
