/**
 * decompressedInput(): a text input (NDJSON on stdin, a file) that may have
 * been compressed, as its text. gzip and zstd are known by their magic
 * bytes, as the archive readers know them (codecs.ts sniffCodec); text
 * never starts with either (1f 8b and 28 b5 2f fd are not UTF-8 there), so
 * a plain input is handed on as it is: no stage, no copy. A compressed one
 * goes through its codec's stage (every gzip member; every zstd frame,
 * skippable frames skipped, streamed through zstd's window where the
 * backend can: zstd-stream.ts). Without this, `shoebox write < x.ndjson.gz`
 * stored the compressed bytes cut at 0x0a as records, and exited 0.
 *
 * Damage (a torn or corrupt input, a read error) ends the text cleanly
 * after every byte decompressed before it (stream/deliver-then-fail.ts) and
 * is kept as `failure`, naming the input, for the command to report once
 * what came before it is stored: a failing stream destroyed the stages
 * after it, and the lines still in them.
 */
import { PassThrough, type Readable } from 'node:stream'
import { CorruptArchiveError, type ShoeboxError } from '../errors.js'
import { ioError } from '../fs/io-error.js'
import { endOnFailure, feed, type EndOnFailure } from '../stream/deliver-then-fail.js'
import { sniffCodec, SNIFF_BYTES, type CodecName } from './codecs.js'
import { peekHead } from './peek.js'

export interface DecompressedInput {
  /** The text: the input itself when plain, else its decompressed bytes, ending cleanly at damage. */
  readonly stream: Readable
  /** What the input was compressed with ('none': plain text). */
  readonly codec: CodecName
  /**
   * The damage (SHOEBOX_BAD_COMPRESSION) or read error (SHOEBOX_IO) that
   * ended a compressed input's text, naming the input; null if none (or not
   * yet ended).
   */
  readonly failure: ShoeboxError | null
}

export interface DecompressedInputOptions {
  /**
   * The largest zstd frame decompressed where zstd input is read a frame at
   * a time, whole, in memory (zstdDecompress()'s maxFrameSize; default
   * 256 MiB): with @mongodb-js/zstd, which cannot stream, and on Node 22
   * without the addon's streaming decoder (its zlib stream stops at the
   * first frame: zstd-stream.ts). The streaming decoders hold a window, not
   * a frame, and need no bound.
   */
  maxFrameSize?: number
  /**
   * Called at damage, before the text ends: the last line the damage cut
   * has no end, and is no line (WholeLines.cut).
   */
  onDamage?: () => void
}

/**
 * `input` as text, decompressed if its first bytes say gzip or zstd;
 * `what` names it in errors ('stdin', a file). Fails with
 * SHOEBOX_UNSUPPORTED naming `what`, before anything is read, for zstd
 * where this install has none. `input` must not be flowing yet.
 */
export async function decompressedInput (input: Readable, what: string, options: DecompressedInputOptions = {}): Promise<DecompressedInput> {
  const { head, stream } = await peekHead(input, SNIFF_BYTES)
  const codec = sniffCodec(head)
  if (codec.name === 'none') return { stream, codec: codec.name, failure: null }
  await codec.ready(what)
  // The stage's module loads only now, for a compressed input: a plain one (`shoebox write` from a pipe) loads none
  // of the eight modules of both stages (start-up: test/startup-lazy.test.ts). The input must not wait on that load
  // with its first bytes in it (a read error meanwhile destroyed it with them, and its 'error' found no listener):
  // it is read at once into a holding stage, which keeps its bytes, and its failure after them (feed()), until
  // the stage is there. zstd streamed through its window where the backend can (zstd-stream.ts): not the archives'
  // frame at a time.
  const holding = feed(stream, new PassThrough())
  const stage = feed(holding, codec.name === 'zstd'
    ? await (await import('./zstd-stream.js')).zstdInputStage(what, options)
    : (await import('./member-gunzip.js')).gunzip())
  const text: EndOnFailure = endOnFailure(stage, { bytes: true })
  // After endOnFailure's own listener (it ends the text), in the same tick: before the end reaches anyone.
  stage.once('error', () => { options.onDamage?.() })
  let failure: ShoeboxError | null = null
  return {
    stream: text,
    codec: codec.name,
    get failure () {
      if (failure === null && text.failure !== null) {
        // The gzip stage knows no file name; a read error is an errno error.
        failure = text.failure instanceof CorruptArchiveError && text.failure.file === undefined ? text.failure.inFile(what) : ioError(text.failure, 'cannot read', what)
      }
      return failure
    }
  }
}
