/**
 * Shared test helpers: where the shared vectors live, chunk splitting, and a
 * decode() runner that collects records, corrupt events and the final error.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { gzipSync } from 'node:zlib'
import type { Test } from 'tap'
import {
  ArchiveDecoder, decode, encodeRecords, ShoeboxError, type ArchiveSource, type DecodeOptions, type DecoderOptions, type DecodedCorruptInfo, type RecordInput, type ShoeboxRecord
} from '../lib/index.js'
import { loadZstd, zstdFrame, type ZstdChoice } from '../lib/compress/zstd.js'
import { zstdDecompress, type ZstdCorruptInfo } from '../lib/compress/zstd-decompress.js'

/** The repository root (this file is <root>/test/helpers.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** <repo root's parent>/shared/vectors/shoebox */
export const vectorDir = join(dirname(repoRoot), 'shared', 'vectors', 'shoebox')

/** Present when the shared vectors are available. */
export const haveVectors = existsSync(join(vectorDir, 'manifest.json'))

/** Use as a test's `skip` option: false when the vectors are there, else the reason. */
export const vectorSkip: string | false = haveVectors
  ? false
  : `shared vectors not found at ${vectorDir}`

export interface ManifestEntry {
  file?: string
  dir?: string
  kind: string
  expected?: string
  records?: number
  bytes?: number
  sha256?: string
  mutation?: { type: string, offset?: number, new_length?: number, old_length?: number }
  total_records?: number
  write_order?: Array<{ file: string, records: number, bytes: number }>
}

export interface Manifest {
  vectors: ManifestEntry[]
}

export function readManifest (): Manifest {
  return JSON.parse(readFileSync(join(vectorDir, 'manifest.json'), 'utf8')) as Manifest
}

/** Valid archives listed in the manifest (kind 'archive'). */
export function archiveEntries (): Array<ManifestEntry & { file: string, expected: string }> {
  if (!haveVectors) return []
  return readManifest().vectors.filter(
    (v): v is ManifestEntry & { file: string, expected: string } =>
      v.kind === 'archive' && typeof v.file === 'string' && typeof v.expected === 'string'
  )
}

export function readVector (relPath: string): Buffer {
  return readFileSync(join(vectorDir, relPath))
}

export function listVectorDir (relDir: string): string[] {
  return readdirSync(join(vectorDir, relDir))
}

/** One line of an expected/*.jsonl file. */
export interface ExpectedLine {
  index: number
  offset: number
  size: number
  metadata?: Array<[string, string]>
  metadata_b64?: Array<[string, string]>
  payload?: string
  payload_b64?: string
}

/** An expected record: metadata as ordered pairs, payload as bytes. */
export interface ExpectedRecord {
  index: number
  offset: number
  size: number
  pairs: Array<[string, string]>
  payload: Buffer
}

export function parseExpectedLine (line: ExpectedLine): ExpectedRecord {
  let pairs: Array<[string, string]>
  if (line.metadata !== undefined) {
    pairs = line.metadata.map(([k, v]) => [k, v])
  } else if (line.metadata_b64 !== undefined) {
    pairs = line.metadata_b64.map(([k, v]) => [
      Buffer.from(k, 'base64').toString('utf8'),
      Buffer.from(v, 'base64').toString('utf8')
    ])
  } else {
    throw new Error(`expected line ${line.index} has no metadata`)
  }
  let payload: Buffer
  if (line.payload !== undefined) payload = Buffer.from(line.payload, 'utf8')
  else if (line.payload_b64 !== undefined) payload = Buffer.from(line.payload_b64, 'base64')
  else throw new Error(`expected line ${line.index} has no payload`)
  return { index: line.index, offset: line.offset, size: line.size, pairs, payload }
}

export function readExpected (relPath: string): ExpectedRecord[] {
  return readFileSync(join(vectorDir, relPath), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => parseExpectedLine(JSON.parse(l) as ExpectedLine))
}

/** Expected records as encoder input (metadata as pairs, to keep the order). */
export function toInputs (records: ExpectedRecord[]): RecordInput[] {
  return records.map((r) => ({ metadata: r.pairs, payload: r.payload }))
}

/** A decoded record in a comparable shape: ordered pairs and the payload bytes copied. */
export interface PlainRecord {
  pairs: Array<[string, string]>
  payload: Buffer
}

export function plain (record: ShoeboxRecord): PlainRecord {
  return { pairs: Object.entries(record.metadata), payload: Buffer.from(record.payload) }
}

/** Split a buffer into views of at most `size` bytes (an empty buffer gives no chunks). */
export function chunked (buffer: Buffer, size: number): Buffer[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be >= 1, got ${size}`)
  const out: Buffer[] = []
  for (let i = 0; i < buffer.length; i += size) out.push(buffer.subarray(i, Math.min(i + size, buffer.length)))
  return out
}

/** Split a buffer into views of sizes[0], sizes[1], ... bytes in turn, starting over after the last (the last view may be shorter). */
export function chunkedInTurn (buffer: Buffer, sizes: number[]): Buffer[] {
  if (sizes.length === 0 || !sizes.every((size) => Number.isInteger(size) && size >= 1)) throw new RangeError(`chunk sizes must be >= 1, got [${sizes.join(', ')}]`)
  const out: Buffer[] = []
  for (let i = 0, k = 0; i < buffer.length; i += sizes[k], k = (k + 1) % sizes.length) out.push(buffer.subarray(i, Math.min(i + sizes[k], buffer.length)))
  return out
}

/** Like chunked(), lazily (for 1-byte chunks of megabyte inputs). */
export function * chunkIter (buffer: Buffer, size: number): Generator<Buffer> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be >= 1, got ${size}`)
  for (let i = 0; i < buffer.length; i += size) yield buffer.subarray(i, Math.min(i + size, buffer.length))
}

/** Split a buffer into two chunks at `at` (either may be empty and is then left out). */
export function splitAt (buffer: Buffer, at: number): Buffer[] {
  return [buffer.subarray(0, at), buffer.subarray(at)].filter((b) => b.length > 0)
}

export interface DecodeOutcome {
  records: ShoeboxRecord[]
  corrupt: DecodedCorruptInfo[]
  error: unknown
}

/**
 * Write `chunks` into a decode() stream and collect everything it produces.
 * Never rejects: a stream error is returned in `error` (undefined on success).
 */
export async function decodeAll (chunks: Iterable<Buffer> | Buffer, options?: DecodeOptions): Promise<DecodeOutcome> {
  const list: Iterable<Buffer> = Buffer.isBuffer(chunks) ? [chunks] : chunks
  const stream = decode(options)
  const records: ShoeboxRecord[] = []
  const corrupt: DecodedCorruptInfo[] = []
  stream.on('corrupt', (info: DecodedCorruptInfo) => { corrupt.push(info) })
  let error: unknown
  // objectMode keeps each chunk a separate write, exactly as split
  const source = Readable.from(list, { objectMode: true })
  source.on('error', (err) => { stream.destroy(err) })
  source.pipe(stream)
  try {
    for await (const record of stream) records.push(record as ShoeboxRecord)
  } catch (err) {
    error = err
  }
  return { records, corrupt, error }
}

/**
 * The same as decodeAll() without the stream: feeds the chunks to an
 * ArchiveDecoder (the part that does the chunk handling) synchronously.
 * Much cheaper per chunk, for tiny chunks of megabyte inputs.
 */
export function decodeDirect (chunks: Iterable<Buffer>, options?: DecoderOptions): DecodeOutcome {
  const records: ShoeboxRecord[] = []
  const corrupt: DecodedCorruptInfo[] = []
  let error: unknown
  try {
    const decoder = new ArchiveDecoder({
      record: (record) => { records.push(record) },
      corrupt: (info) => { corrupt.push(info) }
    }, options)
    for (const chunk of chunks) decoder.write(chunk)
    decoder.end()
  } catch (err) {
    error = err
  }
  return { records, corrupt, error }
}

/** Decode records synchronously-ish from one buffer: just the records (throws on error). */
export async function decodeRecords (buffer: Buffer | Buffer[], options?: DecodeOptions): Promise<ShoeboxRecord[]> {
  const { records, error } = await decodeAll(Buffer.isBuffer(buffer) ? [buffer] : buffer, options)
  if (error !== undefined) throw error
  return records
}

function describePayload (b: Buffer): string {
  const hex = b.subarray(0, 24).toString('hex')
  return `${b.length} bytes${b.length > 0 ? ` ${hex}${b.length > 24 ? '…' : ''}` : ''}`
}

/** Does a decoded record equal an expected one (ordered metadata pairs, payload bytes)? */
export function recordEquals (actual: ShoeboxRecord | PlainRecord, expected: PlainRecord): boolean {
  const pairs = 'pairs' in actual ? actual.pairs : Object.entries(actual.metadata)
  if (pairs.length !== expected.pairs.length) return false
  for (let i = 0; i < pairs.length; i++) {
    if (pairs[i][0] !== expected.pairs[i][0] || pairs[i][1] !== expected.pairs[i][1]) return false
  }
  return Buffer.compare(actual.payload, expected.payload) === 0
}

/**
 * The first difference between decoded records and expected ones, described
 * in words, or undefined when they are equal (count, order, metadata pairs in
 * order, payload bytes). One assertion per list keeps big vectors fast.
 */
export function firstMismatch (actual: Array<ShoeboxRecord | PlainRecord>, expected: PlainRecord[]): string | undefined {
  const n = Math.min(actual.length, expected.length)
  for (let i = 0; i < n; i++) {
    const a = actual[i]
    const e = expected[i]
    if (recordEquals(a, e)) continue
    const pairs = 'pairs' in a ? a.pairs : Object.entries(a.metadata)
    return `record ${i}: got metadata ${JSON.stringify(pairs)} payload ${describePayload(a.payload)}, ` +
      `expected metadata ${JSON.stringify(e.pairs)} payload ${describePayload(e.payload)}`
  }
  if (actual.length !== expected.length) return `got ${actual.length} records, expected ${expected.length}`
  return undefined
}

/** A seeded source of numbers uniform in [0, 1), as mulberry32() makes. */
export type Rng = () => number

/** A whole number from lo to hi (both included), drawn from `rng`. */
export function randomInt (rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1))
}

/** One of `items`, drawn from `rng`. */
export function randomPick<T> (rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]
}

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** Await `promise` and assert it fails with a ShoeboxError of `code`; returns that error. */
export async function expectCode (t: Test, promise: Promise<unknown>, code: string, message: string): Promise<ShoeboxError | undefined> {
  try {
    await promise
  } catch (err) {
    t.ok(err instanceof ShoeboxError, `${message}: a ShoeboxError`)
    t.equal((err as ShoeboxError).code, code, message)
    return err as ShoeboxError
  }
  t.fail(`${message}: expected ${code}, got success`)
  return undefined
}

/**
 * Where each block of the zstd frame `bytes` starts with ends (offsets in
 * `bytes`), read from its headers here rather than by the code under test:
 * for tests that damage or tear a frame at a block (RFC 8878).
 */
export function zstdBlockEnds (bytes: Buffer): number[] {
  let at = zstdFirstBlock(bytes)
  const ends: number[] = []
  for (;;) {
    const header = bytes.readUIntLE(at, 3)
    // An RLE block (type 1) holds one byte.
    at += 3 + (((header >> 1) & 3) === 1 ? 1 : header >>> 3)
    ends.push(at)
    if ((header & 1) === 1) return ends
  }
}

export interface UnzstdOutcome { data: Buffer, error?: Error & { code?: string, offset?: number, cutShort?: boolean, frameTooLarge?: boolean }, corrupt: ZstdCorruptInfo[] }

/** `input` through zstdDecompress() in chunks of `size`: what came out, the error if any, the corrupt events. */
export async function unzstd (input: Buffer, size: number, mode: 'strict' | 'lenient' = 'strict', options: { file?: string, maxFrameSize?: number, backend?: ZstdChoice } = {}): Promise<UnzstdOutcome> {
  const stage = zstdDecompress({ mode, file: options.file ?? 'f.zst', maxFrameSize: options.maxFrameSize, backend: options.backend })
  const corrupt: ZstdCorruptInfo[] = []
  stage.on('corrupt', (info: ZstdCorruptInfo) => corrupt.push(info))
  const out: Buffer[] = []
  try {
    await pipeline(Readable.from(chunkIter(input, size)), stage, async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) out.push(c)
    })
  } catch (err) {
    return { data: Buffer.concat(out), error: err as UnzstdOutcome['error'], corrupt }
  }
  return { data: Buffer.concat(out), corrupt }
}

/** Where the first block header of the zstd frame `bytes` starts with is: after magic, descriptor, window, dictionary id, content size. */
export function zstdFirstBlock (bytes: Buffer): number {
  const fhd = bytes[4]
  const single = (fhd & 0x20) !== 0
  return 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + ((fhd >> 6) === 0 ? (single ? 1 : 0) : 1 << (fhd >> 6))
}

/**
 * Damage the zstd frame of one block at `frame.start` in place: 'content' flips its block's first content byte
 * (the decompressor fails on it: the frames of Node 20's backend carry no
 * content checksum, so damage deeper in may decode to other bytes, which the
 * records' checksums would catch instead); 'header' makes its block header
 * a reserved block type (the walk itself is lost there). Nothing of it decodes.
 */
export function garbleZstdFrame (bytes: Buffer, frame: { start: number }, how: 'content' | 'header' = 'content'): void {
  const end = zstdBlockEnds(bytes.subarray(frame.start))
  const block = frame.start + zstdFirstBlock(bytes.subarray(frame.start))
  if (end.length !== 1) throw new Error(`a frame of ${end.length} blocks`)
  if (how === 'header') bytes[block] |= 0x06
  else bytes[block + 3] ^= 0xff
}

/** One frame of damagedZstdArchive(): where it is in the file, and where its content starts and how long it is. */
export interface FrameSpanned { start: number, length: number, contentStart: number, contentLength: number }

/**
 * The issue 12 repro in small: a zstd archive of `frames` frames of 300
 * records each (varied JSON, unicode), one byte flipped at 3/10 of frames 1
 * and 3. Such a flip still decompresses, to garbage from there to the
 * frame's end (the frames carry no content checksum), among which the
 * records that prove themselves are read: many damaged stretches per frame.
 * (A flip that fails to decompress is garbleZstdFrame()'s case.) Frames
 * written with a content checksum (node:zlib's) have it taken out. The
 * places are fixed, and were chosen on @mongodb-js/zstd's frames: where a
 * flip lands depends on the compressor's exact bytes (at 3/10 of the
 * system libzstd 1.5.4's frame 3 it makes one stretch, not many), and the
 * package's are pinned by the lockfile, where the system's library varies
 * by machine; so the package writes them where it loads. Callers check
 * that the damage is the kind they meant.
 */
export async function damagedZstdArchive (frames = 4): Promise<{ bytes: Buffer, frames: FrameSpanned[], damaged: number[] }> {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'épsilon', '📦', 'zeta', 'eta', 'theta']
  const record = (n: number): RecordInput => ({
    metadata: { n: String(n), host: `web-${n % 7}` },
    payload: { n, path: `/api/v1/items/${(n * 7919) % 1000}`, words: Array.from({ length: 8 }, (_, i) => words[(n * 31 + i * 17) % 9]).join(' '), ms: (n * 13) % 97 }
  })
  const writer = await loadZstd('package') !== null ? 'package' : undefined
  const parts: Buffer[] = []
  const spans: FrameSpanned[] = []
  let start = 0
  let contentStart = 0
  for (let f = 0; f < frames; f++) {
    const content = encodeRecords(Array.from({ length: 300 }, (_, i) => record(f * 300 + i)))
    const frame = withoutContentChecksum(await zstdFrame(content, 1, 'damagedZstdArchive', writer))
    parts.push(frame)
    spans.push({ start, length: frame.length, contentStart, contentLength: content.length })
    start += frame.length
    contentStart += content.length
  }
  const bytes = Buffer.concat(parts)
  const damaged = [1, 3].filter((f) => f < frames)
  for (const f of damaged) bytes[spans[f].start + Math.floor(spans[f].length * 0.3)] ^= 0xff
  return { bytes, frames: spans, damaged }
}

/** A zstd frame without its content checksum (the descriptor's flag cleared, the last 4 bytes dropped), as the frames of Node 20's backend are. */
function withoutContentChecksum (frame: Buffer): Buffer {
  if ((frame[4] & 0x04) === 0) return frame
  const copy = Buffer.from(frame.subarray(0, frame.length - 4))
  copy[4] &= ~0x04
  return copy
}

/**
 * The read-ahead scenario of the stats tests: a first archive of more records
 * than a source buffers (1024), so reading waits in it while the next are
 * fetched ahead, then `how` at its end (stop() or destroy()). Resolves to the
 * records read, once the source has ended or closed.
 */
export async function readFirstArchiveThen (source: ArchiveSource, how: 'stop' | 'destroy', pauseMs: number): Promise<number> {
  let records = 0
  const ended = new Promise<void>((resolve) => {
    source.once('fileEnd', () => {
      if (how === 'stop') source.stop()
      else {
        source.destroy()
        resolve()
      }
    })
    source.once('end', resolve)
    source.once('close', resolve)
  })
  source.on('data', () => {
    // A pause at the first record: the archives opened ahead are read meanwhile.
    if (records++ === 0) {
      source.pause()
      setTimeout(() => { source.resume() }, pauseMs)
    }
  })
  await ended
  return records
}

/** For the rest of test `t`: no zstd in this process (SHOEBOX_ZSTD=0, an install where none loads), restored at its teardown. */
export function withoutZstd (t: { teardown: (fn: () => void) => void }): void {
  withZstdChoice(t, '0')
}

/** For the rest of test `t`: SHOEBOX_ZSTD=`choice` in this process (the zstd backend used), restored at its teardown. */
export function withZstdChoice (t: { teardown: (fn: () => void) => void }, choice: ZstdChoice): void {
  const before = process.env.SHOEBOX_ZSTD
  process.env.SHOEBOX_ZSTD = choice
  t.teardown(() => {
    if (before === undefined) delete process.env.SHOEBOX_ZSTD
    else process.env.SHOEBOX_ZSTD = before
  })
}

/** Runs `fn`, then fails `t` with any unhandled rejection seen meanwhile (or within 50 ms after), rather than the process. */
export async function withoutUnhandled (t: Test, fn: () => Promise<void>): Promise<void> {
  t.same(await unhandledDuring(fn), [], 'no unhandled rejection')
}

/** The rejections left unhandled while `fn` ran (and for 50 ms after), in order. */
export async function unhandledDuring (fn: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = []
  const note = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', note)
  try {
    await fn()
    await new Promise((resolve) => setTimeout(resolve, 50))
  } finally {
    process.off('unhandledRejection', note)
  }
  return unhandled
}

/**
 * A seeded pseudo-random source (an LCG: the same numbers on every machine),
 * and text lines made from it that zstd cannot shrink much, so that a few
 * hundred KB make a frame of several compressed blocks. `lines` draws from
 * the same source as `random`.
 */
export function seededText (seed: number): { random: () => number, lines: (bytes: number, tail?: string) => Buffer } {
  let state = seed
  const random = (): number => { state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff; return state }
  const lines = (bytes: number, tail = ''): Buffer => {
    const out: string[] = []
    for (let n = 0; n < bytes;) {
      const line = `{"r":"${random().toString(36)}","s":"${random().toString(16)}${tail}"}\n`
      out.push(line)
      n += Buffer.byteLength(line)
    }
    return Buffer.from(out.join(''))
  }
  return { random, lines }
}

/** Whether the `zstd` command is on PATH (the CI image has it; tests that compare with it say so when it is not). */
export const haveZstdCommand = ((): boolean => {
  try {
    execFileSync('zstd', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** `s` matched literally inside a RegExp (a path in an expected message). */
export function escapeRegExp (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Three records: unicode metadata and payloads, an empty payload, a binary one. */
export const threeRecords = encodeRecords([
  { metadata: { host: 'web-1', 'ключ': 'значение' }, payload: '{"msg":"héllo wörld ☃ 😀"}' },
  { metadata: {}, payload: Buffer.alloc(0) },
  { metadata: { n: '3', emoji: '🦀' }, payload: Buffer.from([0, 1, 2, 255]) }
])
/** Where threeRecords' second record starts. */
export const threeRecordsSecond = encodeRecords([{ metadata: { host: 'web-1', 'ключ': 'значение' }, payload: '{"msg":"héllo wörld ☃ 😀"}' }]).length

/**
 * Small files, good and damaged in each way a reader meets, by what they are:
 * for tests that read the same bytes two ways (whole and as a stream) and
 * compare everything.
 */
export function smallArchives (): Array<[string, Buffer]> {
  const good = threeRecords
  const second = threeRecordsSecond
  return [
    ['three records, unicode metadata and payloads', good],
    ['empty', Buffer.alloc(0)],
    ['three bytes', Buffer.from('abc')],
    ['truncated in the last record', good.subarray(0, good.length - 3)],
    ['truncated in the first record\'s header', good.subarray(0, 7)],
    ['a flipped byte in the second record', Buffer.concat([good.subarray(0, second + 20), Buffer.from([good[second + 20] ^ 0xff]), good.subarray(second + 21)])],
    ['junk between records', Buffer.concat([good.subarray(0, second), Buffer.from('junk junk'), good.subarray(second)])],
    ['junk after the last record', Buffer.concat([good, Buffer.from('trailing')])],
    ['not an archive (NDJSON)', Buffer.from('{"a":1}\n{"b":2}\n')],
    ['gzip', gzipSync(good)],
    ['gzip cut short', gzipSync(good).subarray(0, 30)]
  ]
}

/** What `fn` throws, as 'CODE: message' ('no code' for an error without one), or 'nothing thrown'. */
export function thrown (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return `${(err as { code?: string }).code ?? 'no code'}: ${(err as Error).message}`
  }
  return 'nothing thrown'
}

/**
 * Run `work`, counting the characters String.prototype.split is given meanwhile: how a test sees split2 splitting
 * a line's text again per chunk (quadratic in the chunks of a line), without timing anything.
 */
export async function countSplitScans<T> (work: () => Promise<T>): Promise<{ result: T, scanned: number }> {
  const split = String.prototype.split
  let scanned = 0
  String.prototype.split = function (this: string, ...args: Parameters<typeof split>) {
    scanned += this.length
    return split.apply(this, args)
  } as typeof split
  try {
    return { result: await work(), scanned }
  } finally {
    String.prototype.split = split
  }
}

/** Where a CLI child hangs (cliHungAt): a call of node:fs/promises, and the paths it hangs for. */
export interface HangAt {
  /** The function hung: `open` (its path) or `rename` (its target's). */
  call: 'open' | 'rename'
  /** The paths whose call hangs; every other call runs as usual. */
  path: RegExp
  /** Hang once the call has done its work (the file opened, so it exists), not before it. Default false. */
  after?: boolean
  /**
   * The calls hung so far go on when the child receives this signal (a slow read that returns): see
   * HungCli.signal. A call hung after it hangs for good. Default: none goes on.
   */
  releaseOn?: NodeJS.Signals
}

/** A CLI child hung at a call (cliHungAt): its pid, and its SIGKILL (resolving once it has ended). */
export interface HungCli {
  pid: number
  kill: () => Promise<void>
  /**
   * Send `signal` (the hang's releaseOn): resolves with the child's exit, or, when it hangs at a call again
   * after the signal, with `hungAgain` true once it has been killed.
   */
  signal: (signal: NodeJS.Signals) => Promise<{ code: number | null, stderr: string, hungAgain: boolean }>
}

/**
 * The `shoebox` binary of the current sources run with `args` and a preload
 * that makes every `hang.call` for a path `hang.path` matches never
 * return: resolves once the child is hung there, for the test to look at
 * what it left so far and kill it (a SIGKILL, at a known point: what a
 * crash mid-write leaves). Rejects if the child ends without reaching the
 * call (the call the test means is no longer made, or not for that path).
 */
export async function cliHungAt (t: Test, args: string[], hang: HangAt, options: { env?: Record<string, string> } = {}): Promise<HungCli> {
  // Loaded here, not above: they load TypeScript's compiler, which the many tests that import this file do without.
  const { cliBinary } = await import('./fixtures-s3/cli-build.js')
  const { startCli } = await import('./fixtures-roll/cli-child.js')
  const { tempDir } = await import('./temp-dir.js')
  const preload = join(tempDir(t, 'shoebox-hang-'), 'hang.mjs')
  const at = hang.call === 'open' ? 'args[0]' : 'args[1]'
  // With releaseOn, the calls hung before the signal go on at it (the preload's handler runs before the CLI's).
  const stop = "process.stdout.write('hanging\\n'); const keep = setInterval(() => {}, 60000); await released; clearInterval(keep)"
  writeFileSync(preload, [
    "import fs from 'node:fs/promises'",
    `const original = fs.${hang.call}`,
    `const hangs = new RegExp(${JSON.stringify(hang.path.source)}, ${JSON.stringify(hang.path.flags)})`,
    'let release',
    'let released = new Promise((resolve) => { release = resolve })',
    ...hang.releaseOn === undefined ? [] : [`process.once(${JSON.stringify(hang.releaseOn)}, () => { release(); released = new Promise(() => {}) })`],
    `fs.${hang.call} = async function (...args) {`,
    `  if (!hangs.test(String(${at}))) return await original.apply(this, args)`,
    hang.after === true ? `  const result = await original.apply(this, args); ${stop}; return result` : `  ${stop}; return await original.apply(this, args)`,
    '}'
  ].join('\n'))
  const child = startCli(t, cliBinary(), args, { nodeArgs: ['--import', pathToFileURL(preload).href], env: options.env })
  child.child.stdin.end()
  await new Promise<void>((resolve, reject) => {
    child.child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('hanging')) resolve() })
    void child.done.then((r) => { reject(new Error(`shoebox ${args.join(' ')} ended (exit ${String(r.code)}) without reaching its ${hang.call} of ${String(hang.path)}: ${r.stderr}`)) })
  })
  const kill = async (): Promise<void> => {
    child.child.kill('SIGKILL')
    await child.done
  }
  return {
    pid: child.pid,
    kill,
    signal: async (signal) => {
      let hungAgain = false
      const again = new Promise<void>((resolve) => {
        child.child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('hanging')) resolve() })
      })
      child.child.kill(signal)
      await Promise.race([child.done, again.then(async () => {
        hungAgain = true
        await kill()
      })])
      const r = await child.done
      return { code: r.code, stderr: r.stderr, hungAgain }
    }
  }
}
