/**
 * A chunk of bytes after which a stream does not go on with the same content:
 * a lenient zstdDecompress() that salvaged the leading blocks of a damaged
 * frame (compress/zstd.ts) pushes that content cut wherever the damage was,
 * mid-record, and then the next frame's, which starts at a record of its own.
 * A decoder that took the two as one would read the cut record's length
 * (its header is intact) across into the next frame, fail its checksum and,
 * skipping the record whole, skip the first records of the next frame too.
 * So the stage marks its last salvaged chunk, and decode() treats the end
 * of that chunk as an end of input for the record held there (truncated).
 *
 * The mark travels with the chunk itself, in order with the bytes, which an
 * event beside the stream would not: a flowing bytes stream hands each
 * pushed Buffer on as it is ('data', pipe, pipeline(), feed()). A consumer
 * that reads several chunks joined (read() on a paused stream) loses the
 * mark, and a lenient decoder after it may then skip the first records after
 * the break. The set holds the chunks weakly, and only a salvage adds one:
 * a clean read pays one set lookup per chunk.
 */
const breaks = new WeakSet<Buffer>()

/** Mark `chunk` as the last of its content (returned, to push). */
export function breakAfter (chunk: Buffer): Buffer {
  breaks.add(chunk)
  return chunk
}

/** Was `chunk` marked by breakAfter()? */
export function isBreakAfter (chunk: Buffer): boolean {
  return breaks.has(chunk)
}
