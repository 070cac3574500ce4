/**
 * What data that is not an archive looks like, said where the decoder meets
 * it at the very first byte. "bad-magic at byte 0" alone does not tell a user
 * the usual mistake: NDJSON (or other text) given where an archive goes.
 */

/** How much of the data's first line the description quotes. */
const PREVIEW_CHARS = 40
/** How many leading bytes are looked at (the decoder waits for them, or the end, before failing at byte 0). */
export const FOREIGN_LOOK_BYTES = 256

/** A clause for a bad-magic at byte 0 of `bytes[at, end)`: '' when the bytes do not look like text. */
export function describeForeignData (bytes: Uint8Array, at: number, end: number): string {
  const stop = Math.min(end, at + FOREIGN_LOOK_BYTES)
  let first = at
  // A UTF-8 byte order mark, then blank space, come before JSON text's first character.
  if (stop - first >= 3 && bytes[first] === 0xEF && bytes[first + 1] === 0xBB && bytes[first + 2] === 0xBF) first += 3
  while (first < stop && isBlank(bytes[first])) first++
  // Text has no control bytes but blank space; an archive's header has several in its first bytes.
  for (let i = first; i < stop; i++) {
    const b = bytes[i]
    if (b < 0x20 && !isBlank(b)) return ''
  }
  if (first === stop) return ''
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + first, stop - first).toString('utf8')
  const line = text.split(/\r?\n/, 1)[0].replace(/\t/g, ' ')
  const preview = `'${line.length > PREVIEW_CHARS ? `${line.slice(0, PREVIEW_CHARS)}...` : line}'`
  const json = bytes[first] === 0x7B || bytes[first] === 0x5B // { or [
  return json
    ? `; it is JSON text, not an archive (it begins ${preview}; \`shoebox write\`, \`shoebox encode\` and encode() archive NDJSON)`
    : `; it is text, not an archive (it begins ${preview})`
}

function isBlank (b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0A || b === 0x0D
}
