/**
 * The put path's kept-id reader (server/kept-id-text.ts) agrees with the
 * general rule (keptEventId) on valid ids of many times, every one-character
 * change of them, wrong lengths, quotes and escapes, and reads the id where
 * it sits inside a larger text.
 */
import t, { type Test } from 'tap'
import { formatEventId, newEventIdBytes } from '../../../lib/events/event-id.js'
import { keptEventId } from '../../../lib/events/kept-event-ids.js'
import { isKronosTimeInRange, MAX_KRONOS_TIME, MIN_KRONOS_TIME } from '../../../lib/events/kronos-time.js'
import { KEPT_AS_WRITTEN, KEPT_UPPER_CASE, keptIdInto } from '../../../lib/events/server/kept-id-text.js'

/**
 * keptIdInto() over the text's UTF-8 bytes, at character offsets (the texts here are ASCII before
 * `start`), for a time given as a bigint: the 16 bytes, or undefined when a new id must be made;
 * `answer` gets keptIdInto()'s answer.
 */
function keptIdAt (text: string, start: number, end: number, time: bigint, answer = { kept: 0 }): Buffer | undefined {
  if (!isKronosTimeInRange(time)) return undefined
  const bytes = Buffer.from(text)
  const words = new Uint32Array(new BigInt64Array([time]).buffer)
  const id = Buffer.alloc(16)
  answer.kept = keptIdInto(bytes, start, end + bytes.length - text.length, words, 0, id, 0)
  return answer.kept !== 0 ? id : undefined
}

const TIMES = [0n, 7n, -1n, 17_645_472_000_000_000n, MIN_KRONOS_TIME, MAX_KRONOS_TIME, (1n << 53n) + 1n, -(1n << 40n)]
const CHARS = ['0', '9', 'a', 'f', 'A', 'F', 'g', 'G', '-', '"', '\\', 'é', ' ', '\u0000']

function same (t: Test, quoted: string, time: bigint, what: string): void {
  const expected = keptEventId(quoted, time)
  const padded = `{"x":1,"@id":${quoted},"y":2}`
  const start = padded.indexOf(':', 8) + 1
  const answer = { kept: 0 }
  const got = keptIdAt(padded, start, start + quoted.length, time, answer)
  if (expected === undefined) {
    t.equal(got, undefined, what)
  } else {
    t.same(got, expected, what)
    // Kept as written only when the text is what is stored: lower case.
    t.equal(answer.kept, quoted === quoted.toLowerCase() ? KEPT_AS_WRITTEN : KEPT_UPPER_CASE, `${what}: the case`)
  }
}

t.test('valid ids are kept for their own time only, in either case', async (t) => {
  for (const time of TIMES) {
    const id = formatEventId(newEventIdBytes(time))
    same(t, `"${id}"`, time, `id for ${time}`)
    t.ok(keptIdAt(`"${id}"`, 0, 38, time) !== undefined, `kept for ${time}`)
    same(t, `"${id.toUpperCase()}"`, time, `upper case for ${time}`)
    for (const other of [time + 1n, time - 1n, time + (1n << 32n), time + (1n << 48n)]) {
      same(t, `"${id}"`, other, `id for ${time} at ${other}`)
      t.equal(keptIdAt(`"${id}"`, 0, 38, other), undefined, `not kept for ${other}`)
    }
  }
})

t.test('every one-character change of a valid id: the same answer as keptEventId', async (t) => {
  const time = 17_645_472_000_000_000n
  const quoted = `"${formatEventId(newEventIdBytes(time))}"`
  let kept = 0
  let refused = 0
  for (let i = 0; i < quoted.length; i++) {
    for (const c of CHARS) {
      const changed = quoted.slice(0, i) + c + quoted.slice(i + 1)
      const expected = keptEventId(changed, time)
      const got = keptIdAt(changed, 0, changed.length, time)
      if (expected === undefined) {
        refused++
        if (got !== undefined) t.fail(`${changed}: kept, keptEventId refuses it`)
      } else {
        kept++
        if (got === undefined || !got.equals(expected)) t.fail(`${changed}: not the bytes keptEventId gives`)
      }
    }
  }
  t.ok(kept > 0 && refused > 0, `both outcomes seen (${kept} kept, ${refused} refused)`)
})

t.test('wrong shapes are refused', async (t) => {
  const time = 5n
  const id = formatEventId(newEventIdBytes(time))
  for (const text of [id, `"${id}`, `"${id.slice(1)}"`, `"${id}0"`, `"${id.replace(/-/g, '')}"`, '"\\u0030' + id.slice(1) + '"', 'null', '""']) {
    same(t, text, time, text)
    t.equal(keptIdAt(text, 0, text.length, time), undefined, text)
  }
  const v4 = newEventIdBytes(time)
  v4[6] = (v4[6] & 0x0F) | 0x40
  t.equal(keptIdAt(`"${formatEventId(v4)}"`, 0, 38, time), undefined, 'not version 1')
  const variant = newEventIdBytes(time)
  variant[8] = 0x90
  t.equal(keptIdAt(`"${formatEventId(variant)}"`, 0, 38, time), undefined, 'byte 8 outside 0x80..0x8F')
})
