/**
 * The event store's write-ahead log: numbered v2 archive files
 * (`wal/<seq>.shoebox`) that every put and delete is appended to before it
 * is answered. Group commit: while one write + fdatasync is in flight, the
 * appends of all other requests queue up and go out together in the next
 * one, so the fsync rate does not limit the request rate. Each append's
 * `apply` runs right after its fsync and before any later rotation, in log
 * order: what is in memory always equals what the log files hold.
 *
 * On open, the files are read back (replay); a torn tail (a crash during a
 * write) is cut back to the last whole record, as lib/roll/recover.ts does
 * for rolled files. Data after a damaged stretch is kept, never cut.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { ArchiveDecoder } from '../../format/decoder.js'
import { ensureDir, syncDir, syncFile, writeAll } from '../../fs/durable.js'
import { ioError, orIoError } from '../../fs/io-error.js'
import type { ShoeboxRecord } from '../../record.js'
import { ShoeboxError } from '../../errors.js'

interface Pending {
  /** Encoded records, or null for a rotation to a new file. */
  bytes: Buffer | null
  apply: () => void
  resolve: () => void
  reject: (err: Error) => void
}

export interface ReplayReport {
  /** Log files read, oldest first. */
  files: string[]
  records: number
  /** Bytes cut from the end of the last file (a torn write). */
  bytesDropped: number
  /** Records lost inside damaged stretches (never silent: reported). */
  damaged: number
}

export class WriteAheadLog {
  readonly dir: string
  #seq: number
  #handle: fs.FileHandle
  #queue: Pending[] = []
  #running = false
  #failed: Error | undefined
  #fsync: boolean

  private constructor (dir: string, seq: number, handle: fs.FileHandle, fsync: boolean) {
    this.dir = dir
    this.#seq = seq
    this.#handle = handle
    this.#fsync = fsync
  }

  /** The file number appends go to now. */
  get seq (): number {
    return this.#seq
  }

  /**
   * Read every log file numbered `from` or above (handing each record to
   * `onRecord`, oldest first), cut a torn tail, then open the last file for
   * appends (or file `from` when there is none).
   */
  static async open (
    dir: string, from: number, fsync: boolean, onRecord: (record: ShoeboxRecord) => Promise<void> | void
  ): Promise<{ log: WriteAheadLog, report: ReplayReport }> {
    await ensureDir(dir)
    const seqs = (await orIoError(fs.readdir(dir), 'cannot list', dir))
      .map((name) => /^(\d{10})\.shoebox$/.exec(name)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b)
    const report: ReplayReport = { files: [], records: 0, bytesDropped: 0, damaged: 0 }
    for (const seq of seqs) {
      if (seq < from) {
        // Left by a crash between the index write and the removal: its events are in runs.
        await fs.unlink(path.join(dir, fileName(seq))).catch(() => {})
        continue
      }
      const file = path.join(dir, fileName(seq))
      report.files.push(file)
      const records = await readLogFile(file, report)
      for (const record of records) await onRecord(record)
      report.records += records.length
    }
    // Appends continue in the last file (its tail is whole now), or a new one when none is left.
    const seq = Math.max(from, seqs[seqs.length - 1] ?? 0)
    const handle = await openLogFile(dir, seq, fsync)
    return { log: new WriteAheadLog(dir, seq, handle, fsync), report }
  }

  /** Append `bytes` (whole records); resolves once they are durable and `apply` has run. */
  append (bytes: Buffer, apply: () => void): Promise<void> {
    return this.#enqueue(bytes, apply)
  }

  /**
   * Switch to a new file after every append queued so far; `apply` runs at
   * that point (the store freezes its memtable there). Resolves to the
   * first file number whose records came after `apply`.
   */
  async rotate (apply: () => void): Promise<number> {
    await this.#enqueue(null, apply)
    return this.#seq
  }

  /** Remove the files numbered below `seq` (their records are in run files now). */
  async removeBefore (seq: number): Promise<void> {
    for (const name of await fs.readdir(this.dir)) {
      const m = /^(\d{10})\.shoebox$/.exec(name)
      if (m !== null && Number(m[1]) < seq) await fs.unlink(path.join(this.dir, name)).catch(() => {})
    }
  }

  /** Wait for queued appends, then close the file. */
  async close (): Promise<void> {
    await this.#enqueue(Buffer.alloc(0), () => {}).catch(() => {})
    this.#failed ??= new ShoeboxError('SHOEBOX_IO', `event log ${this.dir} is closed`)
    await this.#handle.close().catch(() => {})
  }

  #enqueue (bytes: Buffer | null, apply: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#failed !== undefined) {
        reject(this.#failed)
        return
      }
      this.#queue.push({ bytes, apply, resolve, reject })
      if (!this.#running) void this.#run()
    })
  }

  async #run (): Promise<void> {
    this.#running = true
    while (this.#queue.length > 0) {
      const head = this.#queue[0]
      if (head.bytes === null) {
        this.#queue.shift()
        await this.#settle([head], this.#switchFile())
        continue
      }
      // Everything queued up to the next rotation goes out in one write and one fsync.
      let n = 0
      while (n < this.#queue.length && this.#queue[n].bytes !== null) n++
      const batch = this.#queue.splice(0, n)
      await this.#settle(batch, this.#writeBatch(batch))
    }
    this.#running = false
  }

  async #settle (batch: Pending[], work: Promise<void>): Promise<void> {
    try {
      await work
    } catch (err) {
      // A failed write may have left part of the batch on disk: no later append may
      // follow it (replay would read it as theirs), so the log refuses from now on.
      this.#failed = ioError(err, 'cannot append to event log', path.join(this.dir, fileName(this.#seq)))
      for (const p of batch) p.reject(this.#failed)
      for (const p of this.#queue.splice(0)) p.reject(this.#failed)
      return
    }
    for (const p of batch) {
      p.apply()
      p.resolve()
    }
  }

  async #writeBatch (batch: Pending[]): Promise<void> {
    const parts = batch.map((p) => p.bytes as Buffer).filter((b) => b.length > 0)
    if (parts.length === 0) return
    // One writev for the group: no copy of the queued puts into one buffer first.
    if (parts.length === 1) await writeAll(this.#handle, parts[0])
    else await writevAll(this.#handle, parts)
    if (this.#fsync) await this.#handle.datasync()
  }

  async #switchFile (): Promise<void> {
    const next = await openLogFile(this.dir, this.#seq + 1, this.#fsync)
    await this.#handle.close()
    this.#handle = next
    this.#seq++
  }
}

/** Write all of `parts`, in order, at the handle's position (a short writev is continued). */
export async function writevAll (handle: fs.FileHandle, parts: readonly Buffer[]): Promise<void> {
  let rest = [...parts]
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest)
    let done = 0
    while (done < rest.length && bytesWritten >= rest[done].length) bytesWritten -= rest[done++].length
    rest = rest.slice(done)
    if (bytesWritten > 0) rest[0] = rest[0].subarray(bytesWritten)
  }
}

function fileName (seq: number): string {
  return `${String(seq).padStart(10, '0')}.shoebox`
}

async function openLogFile (dir: string, seq: number, fsync: boolean): Promise<fs.FileHandle> {
  const file = path.join(dir, fileName(seq))
  const handle = await orIoError(fs.open(file, 'a'), 'cannot open event log', file)
  // The new name must survive a crash before anything acknowledged is in it.
  if (fsync) await orIoError(syncDir(dir), 'cannot fsync directory', dir)
  return handle
}

/** The records of one log file; a torn tail is cut off the file (and fsynced). */
async function readLogFile (file: string, report: ReplayReport): Promise<ShoeboxRecord[]> {
  const data = await orIoError(fs.readFile(file), 'cannot read event log', file)
  const records: ShoeboxRecord[] = []
  let end = 0
  let damageAt = -1
  let damaged = 0
  const decoder = new ArchiveDecoder({
    record (record, _version, offset, size) {
      records.push(record)
      if (damageAt < 0) end = offset + size
      else end = -1
    },
    corrupt (info) {
      if (damageAt < 0) damageAt = info.offset
      damaged++
    }
  }, { mode: 'lenient', maxRecordSize: Math.max(data.length, 64) })
  decoder.write(data)
  decoder.end()
  if (end >= 0 && end < data.length) {
    // Only a torn tail: nothing readable follows, so cutting loses nothing acknowledged.
    damaged = 0
    report.bytesDropped += data.length - end
    await orIoError(fs.truncate(file, end), 'cannot truncate event log', file)
    await orIoError(syncFile(file), 'cannot fsync', file)
  }
  report.damaged += damaged
  return records
}
