/**
 * parseSize and parseDuration, the units every option accepts: what each
 * value means, and that a negative, unitless (other than 0) or garbage value
 * is refused with SHOEBOX_INVALID_OPTION naming the option.
 */
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
      /^SHOEBOX_INVALID_OPTION: option flushInterval: expected a duration such as 10m, 1h, 30s or 250ms, got '/, JSON.stringify(bad))
  }
  t.match(refusal(() => parseDuration('5', 'flushInterval')), /got '5' \(a number other than 0 needs a unit: ms, s, m, h or d\)$/)
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
