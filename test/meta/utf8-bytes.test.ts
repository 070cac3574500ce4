/**
 * firstBadUtf8Byte() (lib/meta/utf8-bytes.ts), now the stream check over one
 * chunk: the byte it names is where a decoder puts its first U+FFFD that the
 * bytes do not hold themselves (what the metadir's message said before),
 * over seeded mixes of valid characters, a real U+FFFD and bytes that are
 * not UTF-8; and Utf8StreamCheck names the same byte, the bytes cut anywhere.
 */
import t from 'tap'
import { firstBadUtf8Byte, Utf8StreamCheck } from '../../lib/meta/utf8-bytes.js'
import { mulberry32, splitAt } from '../helpers.js'

/** The offset of the first U+FFFD the decoder made up (EF BF BD in the bytes is a real one), or -1. */
function decoderBadByte (bytes: Buffer): number {
  const text = bytes.toString()
  let offset = 0
  let from = 0
  for (let at = text.indexOf('\uFFFD'); at !== -1; at = text.indexOf('\uFFFD', at + 1)) {
    offset += Buffer.byteLength(text.slice(from, at))
    if (!(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) return offset
    offset += 3
    from = at + 1
  }
  return -1
}

const PIECES = [
  ...['a', 'é', '✓', '😀', '\uFFFD', '\n'].map((s) => Buffer.from(s)),
  ...[[0xff], [0x80], [0xc3], [0xe2, 0x9c], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5]].map((b) => Buffer.from(b))
]

const random = mulberry32(20261206)
const cases: Buffer[] = []
while (cases.length < 3000) {
  const bytes = Buffer.concat(Array.from({ length: 1 + Math.floor(random() * 8) }, () => PIECES[Math.floor(random() * PIECES.length)]))
  if (decoderBadByte(bytes) !== -1) cases.push(bytes)
}

t.test('the byte named is where the decoder made up its first U+FFFD', async (t) => {
  const wrong = cases.filter((bytes) => firstBadUtf8Byte(bytes) !== decoderBadByte(bytes)).map((b) => b.toString('hex'))
  t.same(wrong, [], `${cases.length} cases`)
})

t.test('Utf8StreamCheck names the same byte, the bytes cut at any offset', async (t) => {
  const wrong: string[] = []
  for (const bytes of cases.slice(0, 500)) {
    for (let at = 0; at <= bytes.length; at++) {
      const check = new Utf8StreamCheck()
      let bad = -1
      for (const chunk of splitAt(bytes, at)) if (bad === -1) bad = check.check(chunk)
      if (bad === -1) bad = check.end()
      if (bad !== decoderBadByte(bytes)) wrong.push(`${bytes.toString('hex')} cut at ${at}: ${bad}`)
    }
  }
  t.same(wrong, [])
})
