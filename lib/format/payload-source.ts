/**
 * Where a payload's bytes come from when encoding: text, or a range of a
 * buffer. The range form lets NDJSON lines go from the input chunk straight
 * into the output slab without a Buffer object per line.
 */
export interface PayloadSource {
  text: string | null
  bytes: Buffer | null
  start: number
  end: number
}

/** Copy the payload to `at`; returns its length in bytes. */
export function writePayload (buf: Buffer, at: number, source: PayloadSource): number {
  if (source.text !== null) return buf.write(source.text, at)
  const bytes = source.bytes as Buffer
  // TypedArray#set is a plain memcpy; Buffer#copy goes through argument checks first.
  buf.set(source.start === 0 && source.end === bytes.length ? bytes : bytes.subarray(source.start, source.end), at)
  return source.end - source.start
}

/** Most bytes the payload can take (UTF-8 is at most 3 bytes per UTF-16 unit). */
export function payloadBound (source: PayloadSource): number {
  return source.text !== null ? source.text.length * 3 : source.end - source.start
}
