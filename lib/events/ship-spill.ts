/**
 * The shipper's spill: events the in-memory queue has no room for, kept in
 * a local rolling archive and replayed in order when there is room again,
 * in this process or, after a crash or restart, in the next one.
 *
 * The directory is the queue. Each event is one record (metadata: stream,
 * namespace, this run's id and a sequence number; payload: the event text),
 * written through rollingSink with fsync 'always', so a `durable` report
 * means the events survive a SIGKILL. Files are replayed in name order
 * (the run's start time, then a generation number); what the
 * sink is still writing is sealed first ("rotated"), and new events go to a
 * fresh sink meanwhile, after everything already spilled.
 *
 * Never sending an acknowledged event twice: the shipper sends one batch of
 * a stream at a time, so the events of one stream in one file are
 * acknowledged in file order. A small sidecar file (<file>.acked) records,
 * per namespace and stream, the seq of the last settled event (under
 * "positions", with the count it goes with) and how many are settled; a
 * replay after a restart skips the events up to that seq. A file and its
 * sidecar go once every event is settled. Events set aside (ship-aside.ts:
 * an earlier run's, for a namespace the server refuses) are settled so too,
 * once they are sealed in the `refused` subdirectory, which replay never reads.
 *
 * By seq, not by count: the replay reads a damaged file around the damage,
 * and a count of settled events skipped as many readable ones, so a record
 * lost among the settled ones cost the first unsettled event (never sent).
 * The counts stay for an older shoebox, which reads only them; a position
 * whose count no longer matches was moved on by such a version since, and
 * the count is taken instead.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { reworded, ShoeboxError } from '../errors.js'
import { ensureDir, syncFile, writeFileDurably } from '../fs/durable.js'
import { ioError, orIoError } from '../fs/io-error.js'
import { decode } from '../format/decode.js'
import type { CorruptInfo } from '../format/decoder.js'
import type { ShoeboxRecord } from '../record.js'
import { recoverDirectory } from '../roll/recover.js'
import { rollingSink, type FlushEvent, type RollingSink, type SealedEvent } from '../roll/rolling-sink.js'
import { streamKey } from './ship-batcher.js'
import { lockDir } from './store/dir-lock.js'

/**
 * Spill files roll at this size, and spilled events are written (and
 * fsynced) at least this often. Fixed: neither ship() nor `shoebox ship`
 * offers them (two options of their own here, which no caller set, went
 * unchecked to rollingSink).
 */
const SPILL_FILE_SIZE = 16 * 1024 * 1024
const SPILL_FLUSH_MS = 100

export interface SpillOptions {
  dir: string
  /** Told when spilled events are on disk (fsynced). */
  onDurable?: (event: FlushEvent) => void
  /** Told when the spill cannot write (the shipper fails with it). */
  onError?: (error: Error) => void
  /** Told of each damaged stretch of a spill file being replayed (its events lost; the rest is replayed). */
  onDamage?: (damage: SpillDamage) => void
}

/** A damaged stretch of a spill file, skipped by the replay. */
export interface SpillDamage {
  path: string
  offset: number
  bytesSkipped: number
  detail: string
}

/** A replayed event's place in its file, for recording its acknowledgement. */
export interface SpillOrigin {
  file: SpillFile
  key: string
  run: string
  seq: number
}

export interface ReplayedEvent {
  namespace: string | undefined
  stream: string
  text: string
  origin: SpillOrigin
}

/** One sealed spill file being replayed. */
export class SpillFile {
  readonly path: string
  /** Events read from it so far (skipped ones included). */
  read = 0
  /** Of those, events acknowledged or rejected (skipped ones included). */
  settled = 0
  readAll = false
  /** Found at the spill's open: an earlier run's file (its events are not what this run's caller wrote). */
  earlier = false
  /** Settled events per namespace and stream, and the seq of the last of them (where known): the sidecar's content. */
  readonly settledByKey: Record<string, number>
  readonly lastSeqByKey: Record<string, number>
  #writes: Promise<void> = Promise.resolve()

  constructor (file: string, settled: Sidecar) {
    this.path = file
    this.settledByKey = { ...settled.counts }
    this.lastSeqByKey = { ...settled.lastSeqs }
  }

  get sidecar (): string {
    return `${this.path}.acked`
  }

  /** Record settled events; the sidecar writes are serial, and the last one removes the file. */
  async settle (events: Array<{ key: string, seq: number }>): Promise<void> {
    for (const { key, seq } of events) {
      this.settledByKey[key] = (this.settledByKey[key] ?? 0) + 1
      if (Number.isSafeInteger(seq)) this.lastSeqByKey[key] = seq
      else delete this.lastSeqByKey[key]
    }
    this.settled += events.length
    const finished = this.readAll && this.settled === this.read
    const positions: Record<string, [number, number]> = {}
    for (const [key, seq] of Object.entries(this.lastSeqByKey)) positions[key] = [this.settledByKey[key], seq]
    const content = JSON.stringify({ ...this.settledByKey, [POSITIONS]: positions })
    this.#writes = this.#writes.then(async () => {
      if (finished) {
        await orIoError(fs.rm(this.path, { force: true }), 'cannot remove replayed spill file', this.path)
        await orIoError(fs.rm(this.sidecar, { force: true }), 'cannot remove', this.sidecar)
      } else {
        // A full or read-only spill directory: it said only "ENOSPC: no space left on device, write". Nothing is
        // lost (the spill file stays, with the sidecar as it was), but its events settled since are sent again.
        await writeFileDurably(this.sidecar, content).catch((err: unknown) => {
          const failed = ioError(err, `cannot record the events of ${this.path} the server acknowledged in`, this.sidecar)
          throw reworded(failed, `${failed.message}; the spill file stays, and the next run sends again those acknowledged since its last record`)
        })
      }
    })
    await this.#writes
  }
}

/** The sidecar's entry of positions; no stream key (streamKey() puts NULs in each) can take its name. */
const POSITIONS = 'positions'

/** A sidecar's content: settled counts per stream key, and the seq of the last settled event where it is known. */
interface Sidecar {
  counts: Record<string, number>
  lastSeqs: Record<string, number>
}

/** Read a sidecar (a missing or unreadable one: nothing settled yet); a position whose count is not the key's was left behind by an older version. */
async function readSidecar (file: string): Promise<Sidecar> {
  let content: Record<string, unknown> = {}
  try {
    content = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>
  } catch {
    // No sidecar: nothing of this file was acknowledged yet.
  }
  const counts: Record<string, number> = {}
  const lastSeqs: Record<string, number> = {}
  for (const [key, value] of Object.entries(content)) if (key !== POSITIONS && typeof value === 'number') counts[key] = value
  const positions = content[POSITIONS]
  if (typeof positions === 'object' && positions !== null) {
    for (const [key, value] of Object.entries(positions as Record<string, unknown>)) {
      if (Array.isArray(value) && value[0] === counts[key] && Number.isSafeInteger(value[1])) lastSeqs[key] = value[1] as number
    }
  }
  return { counts, lastSeqs }
}

const SPILL_SUFFIX = '.shoebox'

/** What of one sink's events is on disk: they go to it in seq order, and its flushes (fsync 'always') count them in that order. */
interface SinkWritten {
  /** The seq of its first event. */
  firstSeq: number
  /** How many of its events are fsynced in its files. */
  durable: number
  /** The file its last flush went to, and how many bytes of it are flushed. */
  file: string
  fileBytes: number
}

export class Spill {
  readonly dir: string
  readonly #options: SpillOptions
  readonly #run = randomBytes(8).toString('hex')
  /**
   * When this run started, in %Y%m%dT%H%M%S%fZ form: the start of its file names. Names sort
   * by run, then generation; a time taken when each file is named does not (under load a
   * replay's rotation sealed generation 0 after generation 1 had its name, and a restart
   * replayed that event last). After every spill file found at open (#stampAfter): a clock
   * stepped back since an earlier run named this run's files before that run's, and a restart
   * replayed them first, out of the order written.
   */
  #started = runStamp(Date.now())
  readonly #pending: string[] = []
  /** The spill files found at open: an earlier run's. */
  readonly #found = new Set<string>()
  readonly #done = new Map<number, (error: Error | null) => void>()
  #sink: RollingSink | null = null
  /** Every sink of this run, in order: what of its events is on disk (see SinkWritten). */
  readonly #sinks: SinkWritten[] = []
  readonly #written = new WeakMap<RollingSink, SinkWritten>()
  /** The first failure of a sink: the events it did not get on disk are not kept. */
  failure: Error | undefined
  /** Sinks being ended (sealed) by a rotation: close() waits for them too. */
  readonly #ending = new Set<Promise<void>>()
  #sinkRecords = 0
  #generation = 0
  #seq = 0
  #replaying = false
  #closed = false
  #unlock: (() => Promise<void>) | undefined

  constructor (options: SpillOptions) {
    this.#options = { ...options }
    this.dir = options.dir
  }

  /** Seal what a crashed run left and queue every spill file for replay. */
  async open (): Promise<void> {
    await ensureDir(this.dir)
    // One shipper a spill: two would both replay its files (a Kronos server stores such events twice).
    this.#unlock = await lockDir(this.dir, { file: '.ship.pid', what: 'spill directory', who: 'shoebox ship', inProcess: true })
    let names: string[]
    try {
      await recoverDirectory(this.dir)
      names = (await orIoError(fs.readdir(this.dir), 'cannot list spill directory', this.dir)).sort()
    } catch (err) {
      // Not opened: the directory is free for another try (this process's lock would refuse it).
      await this.#unlock()
      throw err
    }
    this.#started = stampAfter(this.#started, names)
    const files = new Set(names)
    for (const name of names) {
      if (name.endsWith(SPILL_SUFFIX) && !name.startsWith('.')) {
        this.#pending.push(path.join(this.dir, name))
        this.#found.add(path.join(this.dir, name))
      }
      // A sidecar whose file is gone: its file was fully replayed.
      if (name.endsWith('.acked') && !files.has(name.slice(0, -'.acked'.length))) await fs.rm(path.join(this.dir, name), { force: true })
      // A sidecar's or a lock's temporary file a kill left (the directory is this process's now): each SIGKILL in a write left one for good.
      if (/^\..+\.acked\.[0-9a-f]+\.tmp$/.test(name) || /^\.\.ship\.pid\.\d+\.[0-9a-f]+\.tmp$/.test(name)) await fs.rm(path.join(this.dir, name), { force: true })
    }
  }

  /** True while spilled events wait: new events must follow them, not overtake them. */
  get active (): boolean {
    return this.#replaying || this.#pending.length > 0 || this.#sinkRecords > 0
  }

  /** Spill one event; `written` is called when the sink has room for more (backpressure). */
  write (namespace: string | undefined, stream: string, text: string, done: ((error: Error | null) => void) | undefined, written: (error?: Error | null) => void): void {
    // The sink first: a new one starts at the seq about to be taken (#onDisk counts from there).
    const sink = this.#currentSink()
    const seq = this.#seq++
    if (done !== undefined) this.#done.set(seq, done)
    const metadata: Record<string, string> = { stream, run: this.#run, seq: String(seq) }
    if (namespace !== undefined) metadata.namespace = namespace
    this.#sinkRecords++
    sink.write({ metadata, payload: Buffer.from(text, 'utf8') }, written)
  }

  /** The write callback of an event spilled by this run, handed over at replay (once). */
  takeDone (origin: SpillOrigin): ((error: Error | null) => void) | undefined {
    if (origin.run !== this.#run) return undefined
    const done = this.#done.get(origin.seq)
    this.#done.delete(origin.seq)
    return done
  }

  /**
   * Every spilled event, in order, until none is left: sealed files first,
   * then what the sink holds (sealed for the purpose). Ends, with `active`
   * false, when the spill is empty.
   */
  async * replay (): AsyncGenerator<ReplayedEvent> {
    this.#replaying = true
    try {
      while (!this.#closed) {
        const next = this.#pending.shift()
        if (next !== undefined) {
          yield * await this.#replayFile(next)
        } else if (this.#sinkRecords > 0) {
          await this.#rotate()
        } else {
          return
        }
      }
    } finally {
      this.#replaying = false
    }
  }

  async #replayFile (file: string): Promise<AsyncGenerator<ReplayedEvent>> {
    const skip = await readSidecar(`${file}.acked`)
    const spillFile = new SpillFile(file, skip)
    spillFile.earlier = this.#found.has(file)
    const left = { ...skip.counts }
    const run = this.#run
    // Lenient: damage (a bad sector, a stray write) loses the events in it, not the file's others, and does not
    // fail every run that meets it. Strict, it failed each run at that byte, and the events before it never went out.
    const records = decode({ file, mode: 'lenient' })
    const onDamage = this.#options.onDamage
    records.on('corrupt', (info: CorruptInfo) => { onDamage?.({ path: file, offset: info.offset, bytesSkipped: info.bytesSkipped, detail: info.detail }) })
    const reading = pipeline(createReadStream(file), records).catch((err: unknown) => { records.destroy(err as Error) })
    async function * events (): AsyncGenerator<ReplayedEvent> {
      for await (const record of records as AsyncIterable<ShoeboxRecord>) {
        const { stream, namespace, seq } = record.metadata
        const key = streamKey(namespace, stream)
        spillFile.read++
        // Settled before: up to its last seq where that is known, else the first so many (a sidecar of an older version).
        const last = skip.lastSeqs[key]
        if (last !== undefined ? Number(seq) <= last : (left[key] ?? 0) > 0) {
          if (last === undefined) left[key]--
          spillFile.settled++
          continue
        }
        yield { namespace, stream, text: record.payload.toString('utf8'), origin: { file: spillFile, key, run: record.metadata.run ?? run, seq: Number(seq) } }
      }
      await reading
      spillFile.readAll = true
      // Everything in it was settled before (or it was empty): it goes now.
      if (spillFile.settled === spillFile.read) await spillFile.settle([])
    }
    return events()
  }

  /** Seal the sink's file(s) for replay; new events go to a new sink. */
  async #rotate (): Promise<void> {
    const sink = this.#sink
    this.#sink = null
    this.#sinkRecords = 0
    if (sink === null) return
    const ending = new Promise<void>((resolve, reject) => {
      sink.once('error', reject)
      // end()'s callback hears the sink's failure too (a full disk at the seal), maybe before 'error' is emitted.
      sink.end((err?: Error | null) => {
        if (err !== null && err !== undefined) {
          this.failure ??= err
          // What the failed write left past the last flush goes: the spill holds exactly the events it
          // says are on disk (recovery would otherwise seal the whole records of a part-written block).
          void this.#cutToDurable(sink).finally(() => { reject(err) })
        } else {
          resolve()
        }
      })
    })
    this.#ending.add(ending)
    try {
      await ending
    } finally {
      this.#ending.delete(ending)
    }
  }

  /** Cut a failed sink's unsealed file back to its flushed (fsynced) bytes; best effort. */
  async #cutToDurable (sink: RollingSink): Promise<void> {
    const unsealed = sink.kept().unsealed
    const written = this.#written.get(sink)
    if (unsealed === null || written === undefined) return
    const keep = unsealed.path === written.file ? written.fileBytes : 0
    await fs.truncate(unsealed.path, keep).then(async () => { await syncFile(unsealed.path) }).catch(() => {})
  }

  #currentSink (): RollingSink {
    if (this.#sink !== null) return this.#sink
    const generation = String(this.#generation++).padStart(6, '0')
    const written: SinkWritten = { firstSeq: this.#seq, durable: 0, file: '', fileBytes: 0 }
    // Sinks whose events are all settled (replayed, or told) are forgotten: a long run rotates often.
    const oldest = this.#done.keys().next().value ?? this.#seq
    while (this.#sinks.length > 0 && (this.#sinks[1]?.firstSeq ?? this.#seq) <= oldest) this.#sinks.shift()
    this.#sinks.push(written)
    const sink = rollingSink({
      dir: this.dir,
      template: `spill-${this.#started}-${generation}-{pid}-{seq}${SPILL_SUFFIX}`,
      roll: { size: SPILL_FILE_SIZE },
      fsync: 'always',
      flushInterval: SPILL_FLUSH_MS,
      recover: false,
      // Replay reads the files back by their records' checksums; no file's hash is wanted.
      sha256: false
    })
    sink.on('sealed', (event: SealedEvent) => { this.#pending.push(event.path) })
    sink.on('flush', (event: FlushEvent) => {
      // Events go to a sink in seq order, and its flushes count them in that order (fsync 'always': on disk).
      written.durable = event.totalRecords
      if (event.path !== written.file) {
        written.file = event.path
        written.fileBytes = 0
      }
      written.fileBytes += event.bytes
      this.#options.onDurable?.(event)
    })
    sink.on('error', (err: Error) => {
      this.failure ??= err
      this.#options.onError?.(err)
    })
    this.#written.set(sink, written)
    this.#sink = sink
    return sink
  }

  /** What a spilled event's callback hears when the shipper failed: it stays on disk for the next run. */
  keptError (failure: Error): ShoeboxError {
    return new ShoeboxError(failure instanceof ShoeboxError ? failure.code : 'SHOEBOX_UNREACHABLE',
      `${failure.message}; the event stays spilled in ${this.dir} for the next run`, { cause: failure })
  }

  /**
   * The shipper failed, and the spill is closed: its events' callbacks hear
   * `failure`, those on disk (for the next run) with keptError(), those a
   * failed sink did not get there (a full disk) as they are: not kept.
   */
  abandon (failure: Error): void {
    const kept = this.keptError(failure)
    const done = [...this.#done]
    this.#done.clear()
    for (const [seq, callback] of done) callback(this.#onDisk(seq) ? kept : failure)
  }

  /** How many of this run's events are in spill files, fsynced (of the sinks not forgotten: all, for a spill never replayed). */
  get onDisk (): number {
    return this.#sinks.reduce((n, sink) => n + sink.durable, 0)
  }

  /** Whether this run's event `seq` is in a spill file, fsynced. */
  #onDisk (seq: number): boolean {
    for (let i = this.#sinks.length - 1; i >= 0; i--) {
      const sink = this.#sinks[i]
      if (seq >= sink.firstSeq) return seq - sink.firstSeq < sink.durable
    }
    return false
  }

  /** Seal what is spilled (kept for the next run) and stop. */
  async close (): Promise<void> {
    this.#closed = true
    try {
      await this.#rotate()
    } finally {
      // A rotation the replay started may still be sealing its file: the directory is the next
      // run's queue, so it must be whole before the shipper says it stopped (a run started at once
      // found it empty, and its recovery raced this sink). Its failure was the replay's to report.
      await Promise.allSettled([...this.#ending])
      // Released when the seal fails too (a full disk): the directory is the next shipper's, in this process as in another.
      await this.#unlock?.()
    }
  }
}

/** Epoch ms -> 20261203T201345432000Z (the form %Y%m%dT%H%M%S%fZ gave older runs' files), plus `micros` (0-999). */
function runStamp (ms: number, micros = 0): string {
  return `${new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, `$1${String(micros).padStart(3, '0')}Z`)}`
}

const SPILL_NAME_STAMP = /^spill-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})(\d{3})Z-/

/** `stamp`, or, when a spill file in `names` has a stamp at or after it, the stamp one microsecond after the last. */
function stampAfter (stamp: string, names: readonly string[]): string {
  let last: RegExpExecArray | undefined
  for (const name of names) {
    const m = SPILL_NAME_STAMP.exec(name)
    if (m !== null && (last === undefined || name > last.input)) last = m
  }
  if (last === undefined || `spill-${stamp}` > last.input.slice(0, 'spill-'.length + stamp.length)) return stamp
  const [, y, mo, d, h, mi, sec, ms, us] = last
  const at = Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec, +ms)
  return +us < 999 ? runStamp(at, +us + 1) : runStamp(at + 1)
}
