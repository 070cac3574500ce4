/**
 * Helpers for the roll-*.test.ts files: temp directories, reading a directory
 * of archives back in natural name order (strict: any damage throws), gzip
 * member walking, dead pids, and spawning the writer fixture.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { transpileTree } from '../transpile.js'
import zlib from 'node:zlib'
import { isGzip } from '../../lib/compress/gzip.js'
import { ArchiveDecoder, naturalCompare, type RecordInput, type RollingSink, type ShoeboxRecord } from '../../lib/index.js'

// Temporary directories: under the repository's tmp/ (see temp-dir.ts); re-exported for the tests that import them here.
import { tempDir, type Teardown } from '../temp-dir.js'
export { tempDir, type Teardown }

/**
 * Count FileHandle.sync() calls (files and directories) made in this process
 * until the test ends: `count()` since the last `reset()`.
 */
export async function countSyncs (t: Teardown): Promise<{ count: () => number, reset: () => void }> {
  const probe = await fs.promises.open(tempDir(t), 'r')
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> }
  await probe.close()
  const original = proto.sync
  let syncs = 0
  proto.sync = function (this: unknown) { syncs++; return original.call(this) }
  t.teardown(() => { proto.sync = original })
  return { count: () => syncs, reset: () => { syncs = 0 } }
}

export interface DecodedRecord {
  record: ShoeboxRecord
  /** Offset and size in the (decompressed) archive. */
  offset: number
  size: number
}

/** Strictly decode archive bytes (plain, or gzip with any number of members). Throws on any damage. */
export function decodeBytes (data: Buffer): DecodedRecord[] {
  const raw = isGzip(data) ? zlib.gunzipSync(data) : data
  const out: DecodedRecord[] = []
  const decoder = new ArchiveDecoder({
    record (record, _version, offset, size) { out.push({ record, offset, size }) },
    corrupt () { throw new Error('strict decoder reported damage') }
  }, { mode: 'strict' })
  decoder.write(raw)
  decoder.end()
  return out
}

export function decodeFile (file: string): DecodedRecord[] {
  return decodeBytes(fs.readFileSync(file))
}

/** Names of the sealed archives in `dir` (not the hidden temporary files), in natural order. */
export function archiveNames (dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort(naturalCompare)
}

/** Hidden temporary (.part) files left in `dir`. */
export function tempNames (dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.part'))
}

export interface ReadBack {
  names: string[]
  /** Records of each file, in natural name order. */
  files: ShoeboxRecord[][]
  records: ShoeboxRecord[]
}

/** Every sealed archive in `dir`, read strictly in natural name order. */
export function readDir (dir: string): ReadBack {
  const names = archiveNames(dir)
  const files = names.map((n) => decodeFile(path.join(dir, n)).map((d) => d.record))
  return { names, files, records: files.flat() }
}

export function seqOf (record: ShoeboxRecord): number {
  return (JSON.parse(record.payload.toString('utf8')) as { seq: number }).seq
}

export function range (n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i)
}

/** Deterministic pseudo-random numbers. */
export { mulberry32 as prng } from '../helpers.js'

/** Write everything into the sink (honouring backpressure), end it and wait for 'finish'. */
export async function writeAll (sink: RollingSink, items: Iterable<RecordInput | RecordInput[] | Buffer>): Promise<void> {
  for (const item of items) {
    if (!sink.write(item)) await once(sink, 'drain')
  }
  sink.end()
  await finished(sink)
}

/**
 * The members of a multi-member gzip file, each as its own complete gzip
 * buffer (header, deflate data, trailer). Throws if the bytes are not a clean
 * series of members. Assumes headers without optional fields (what zlib writes).
 */
export function gzipMembers (data: Buffer): Buffer[] {
  const out: Buffer[] = []
  let pos = 0
  while (pos < data.length) {
    if (data[pos] !== 0x1f || data[pos + 1] !== 0x8b || data[pos + 2] !== 8 || data[pos + 3] !== 0) {
      throw new Error(`no plain gzip member header at ${pos}`)
    }
    const inflated = zlib.inflateRawSync(data.subarray(pos + 10), { info: true }) as unknown as { engine: { bytesWritten: number } }
    const end = pos + 10 + inflated.engine.bytesWritten + 8
    if (end > data.length) throw new Error(`member at ${pos} runs past the end`)
    out.push(data.subarray(pos, end))
    pos = end
  }
  return out
}

/** The pid of a process that has exited (and so is not alive). */
export async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  const pid = child.pid
  if (pid === undefined) throw new Error('could not spawn node')
  await once(child, 'exit')
  return pid
}

/** Options of the writer fixture (test/fixtures-roll/writer.ts). */
export interface WriterOptions {
  dir: string
  gzip?: boolean
  /** Compress with zstd instead (not with gzip). */
  zstd?: boolean
  rollSize?: string
  rollRecords?: number
  template?: string
  flushInterval?: number
  blockSize?: number | string
  /** Written into each record's metadata as `w`. */
  writer?: number
  /** Records to write, then end() and print 'done'. Default: write until killed. */
  total?: number
  /** Records per batch, and a pause between batches (ms). */
  batch?: number
  pauseMs?: number
  /** Print 'ready' and wait for a line on stdin before writing. */
  waitForGo?: boolean
}

/** The repository root (this file is <root>/test/fixtures-roll/util.ts). */
const WRITER_TS = fileURLToPath(new URL('./writer.ts', import.meta.url))

/**
 * The writer fixture and every source file it imports, transpiled from the
 * .ts sources into `outDir` (as ts-node's transpile-only mode would, but once
 * rather than in every child: a child started with the TypeScript loader
 * spends seconds compiling before it writes anything). Not the build in
 * dist/: the sources as they are now. Returns the path of writer.js.
 */
export function buildWriter (outDir: string): string {
  return transpileTree(WRITER_TS, outDir)
}

export type Child = ChildProcessByStdio<Writable, Readable, Readable>

/**
 * Start a writer (the path buildWriter() returned) with plain node. Children
 * still running when the test ends are killed.
 */
export function spawnWriter (t: Teardown, writer: string, options: WriterOptions): Child {
  const env = { ...process.env }
  delete env.NODE_OPTIONS // tap's process-tracking hook: not needed in a child that is not a test
  const child = spawn(process.execPath, [writer, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'pipe'], env })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return child
}

/**
 * Wait for `promise`, failing after `ms`. The timer also keeps the event
 * loop alive: the sink's own timers are unref'd, so a test waiting only on
 * them would otherwise just end.
 */
export async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
