/**
 * Utf8LineCheck names the lines that are not UTF-8 wherever the chunks are
 * cut: each multi-byte sequence below, valid or not, is split at every byte
 * boundary (one cut at every offset, and chunks of 1 to 13 bytes), and the
 * bytes pass through untouched.
 */
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { Utf8LineCheck } from '../../lib/ndjson/utf8-line-check.js'
import { chunked, splitAt } from '../helpers.js'

const b = (...bytes: number[]): Buffer => Buffer.from(bytes)
const lines: Array<{ bytes: Buffer, bad: boolean }> = [
  { bytes: Buffer.from('two é three ✓ four 😀'), bad: false },
  { bytes: b(0x61, 0xc3), bad: true }, // cut short by the newline
  { bytes: b(0xe2, 0x9c, 0x93, 0xf0, 0x9f, 0x98, 0x80), bad: false }, // ✓😀 and nothing else
  { bytes: b(0xf0, 0x9f, 0x98, 0x41), bad: true }, // an ASCII byte where a continuation belongs
  { bytes: b(), bad: false },
  { bytes: b(0x22, 0xed, 0xa0, 0x80, 0x22), bad: true }, // a surrogate, as UTF-8 forbids
  { bytes: b(0xc0, 0xaf), bad: true }, // overlong '/'
  { bytes: b(0xf4, 0x90, 0x80, 0x80), bad: true }, // past U+10FFFF
  { bytes: b(0x80, 0x41), bad: true }, // a continuation byte alone
  { bytes: b(0xef, 0xbf, 0xbd), bad: false }, // a real U+FFFD
  { bytes: b(0xe2, 0x9c), bad: true }, // cut short by the newline
  { bytes: Buffer.from('fine'), bad: false },
  { bytes: b(0xff, 0xc3, 0xa9, 0xc3), bad: true }, // bad at the start and at the end
  { bytes: b(0x7b, 0xf0, 0x9f, 0x98), bad: true } // the last line, without a newline, ends inside a character
]
const input = Buffer.concat(lines.flatMap(({ bytes }, i) => i < lines.length - 1 ? [bytes, b(0x0a)] : [bytes]))
const expected = lines.flatMap(({ bad }, i) => bad ? [i + 1] : [])

async function badLines (chunks: Buffer[]): Promise<{ bad: number[], out: Buffer }> {
  const check = new Utf8LineCheck()
  const out: Buffer[] = []
  await pipeline(Readable.from(chunks), check, new Writable({ write (chunk: Buffer, _enc, cb) { out.push(chunk); cb() } }))
  return { bad: [...check.badLines].sort((x, y) => x - y), out: Buffer.concat(out) }
}

t.test('the expected lines are those that are not UTF-8 alone', async (t) => {
  t.same(expected, [2, 4, 6, 7, 8, 9, 11, 13, 14])
  t.same(lines.map(({ bytes }) => !Buffer.from(bytes.toString()).equals(bytes)), lines.map(({ bad }) => bad))
})

t.test('one cut at every offset', async (t) => {
  for (let at = 0; at <= input.length; at++) {
    const { bad, out } = await badLines(splitAt(input, at))
    t.same(bad, expected, `cut at ${at}`)
    t.ok(out.equals(input), `bytes untouched, cut at ${at}`)
  }
})

for (let size = 1; size <= 13; size++) {
  t.test(`${size}-byte chunks`, async (t) => {
    const { bad, out } = await badLines(chunked(input, size))
    t.same(bad, expected)
    t.ok(out.equals(input))
  })
}

t.test('a last line ending inside a character is bad; one ending with its newline is not', async (t) => {
  for (let at = 0; at <= 4; at++) {
    t.same((await badLines(splitAt(b(0x61, 0x0a, 0xf0, 0x9f, 0x98), at))).bad, [2], `cut at ${at}`)
    t.same((await badLines(splitAt(b(0x61, 0x0a, 0xf0, 0x9f, 0x98, 0x80, 0x0a), at))).bad, [], `cut at ${at}`)
  }
})
