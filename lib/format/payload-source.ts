/**
 * A payload as the encoder writes it: text (written as UTF-8), or bytes
 * [start, end) of a buffer. The range form lets NDJSON lines go from the
 * input chunk straight into the output slab without a Buffer object per line.
 * Passed as arguments rather than set on an object the encoder keeps, so that
 * nothing is stored per record (as for metadata: see measureMetadata).
 */
export type Payload = string | Buffer

/** Copy the payload to `at`; returns its length in bytes. `start` and `end` apply to a Buffer. */
export function writePayload (buf: Buffer, at: number, payload: Payload, start: number, end: number): number {
  if (typeof payload === 'string') return buf.write(payload, at)
  // TypedArray#set is a plain memcpy; Buffer#copy goes through argument checks first. A
  // range needs a view: a plain Uint8Array, a quarter of the cost of Buffer#subarray.
  buf.set(start === 0 && end === payload.length ? payload : new Uint8Array(payload.buffer, payload.byteOffset + start, end - start), at)
  return end - start
}

/** Most bytes the payload can take (UTF-8 is at most 3 bytes per UTF-16 unit). */
export function payloadBound (payload: Payload, start: number, end: number): number {
  return typeof payload === 'string' ? payload.length * 3 : end - start
}
