/**
 * Copy a metadir to and from any Store (`file://`, `s3://`): what mmmeta
 * leaves to `aws s3 sync`, in an order that keeps readers safe.
 *
 * Keys mirror the metadir: `<store root>/_mmmeta/db/<name>`, `_mmmeta/config.yml`,
 * `_mmmeta/_store/<key>` (and `_store_types/`), so an mmmeta user syncing
 * the same place with other tools sees the usual layout. `state.db` is the
 * consumer's own and is never copied.
 *
 * Order: the history files first (oldest first), then config.yml and the
 * store's typed records, then the store values, `meta_last_updated` and
 * `store_last_updated` last: a reader that sees a new pointer finds every
 * history file it points past. Each file arrives whole: a store write is one
 * object, and a pulled file is written beside its name and renamed.
 *
 * Only what is new moves: history files are never rewritten (same name, same
 * bytes), so one missing at the other side is copied and one present is not
 * read again; a pointer file is copied when its size or its bytes differ
 * (they are a few bytes each). Nothing is deleted at the destination.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { pipeline } from 'node:stream/promises'
import { abortReason, checkSignal, reworded, ShoeboxError, throwIfAborted, untilAborted } from '../errors.js'
import { plural } from '../plural.js'
import { ensureDir, randomSuffix, syncDir, syncFile, writeFileDurably } from '../fs/durable.js'
import { ioError } from '../fs/io-error.js'
import { doneWritingTemp, hostName, leftByDeadWriter, writerTag, writingTemp } from '../roll/names.js'
import { openStore, type StoreOptions } from '../store/open-store.js'
import type { ObjectInfo, Store } from '../store/store.js'
import { STORE_DIR, STORE_LAST_UPDATED, STORE_TYPES_DIR } from './kv-store.js'

export interface SyncOptions extends StoreOptions {
  /**
   * Told about each file copied, as it completes. What it returns is awaited
   * before the next file; a rejection fails the sync with its error (the
   * files copied before it stay).
   */
  onFile?: (file: SyncedFile) => unknown
  /**
   * Stops the copy: the file under way is dropped (pushed, no object and no
   * multipart upload left open on S3; pulled, no file and no temporary file),
   * the files copied before it stay, each whole, and the call rejects with
   * SHOEBOX_ABORTED (the signal's reason when it is a ShoeboxError) saying
   * how many were copied.
   */
  signal?: AbortSignal
}

export interface SyncedFile {
  /** Key relative to the store root (= path relative to the base). */
  key: string
  bytes: number
  kind: 'history' | 'pointer'
}

export interface SyncResult {
  /** The files copied, in the order they were. */
  copied: SyncedFile[]
  /** Files present at both sides already. */
  unchanged: number
  bytes: number
}

const META = '_mmmeta'
const LAST = ['meta_last_updated', 'state_last_updated', STORE_LAST_UPDATED]

interface Entry {
  key: string
  size: number
  kind: 'history' | 'pointer'
}

/** Is `key` (under _mmmeta/) something sync copies, and which kind? */
function kindOf (key: string): Entry['kind'] | null {
  const parts = key.split('/')
  if (parts[0] !== META) return null
  const name = parts[parts.length - 1]
  if (name.startsWith('.')) return null
  if (parts.length === 3 && parts[1] === 'db' && (name.endsWith('append') || name.endsWith('squashed'))) return 'history'
  if (parts.length === 2 && name === 'config.yml') return 'pointer'
  if (parts.length === 3 && (parts[1] === STORE_DIR || parts[1] === STORE_TYPES_DIR)) return 'pointer'
  return null
}

/** History oldest first; then config, types, values; the last-updated pointers last. */
function syncOrder (a: Entry, b: Entry): number {
  const rank = (e: Entry): number => {
    if (e.kind === 'history') return 0
    if (e.key.endsWith('config.yml')) return 1
    if (e.key.startsWith(`${META}/${STORE_TYPES_DIR}/`)) return 2
    const name = e.key.slice(e.key.lastIndexOf('/') + 1)
    return LAST.includes(name) ? 4 + LAST.indexOf(name) : 3
  }
  return rank(a) - rank(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
}

async function localEntries (base: string): Promise<Entry[]> {
  const out: Entry[] = []
  for (const dir of ['', 'db', STORE_DIR, STORE_TYPES_DIR]) {
    const abs = path.join(base, META, dir)
    let names: string[]
    try {
      names = await fs.readdir(abs)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw ioError(err, 'cannot list', abs)
    }
    for (const name of names) {
      const key = [META, dir, name].filter((p) => p !== '').join('/')
      const kind = kindOf(key)
      if (kind === null) continue
      const stat = await fs.stat(path.join(abs, name))
      if (stat.isFile()) out.push({ key, size: stat.size, kind })
    }
  }
  return out.sort(syncOrder)
}

async function remoteEntries (store: Store): Promise<Map<string, ObjectInfo>> {
  const out = new Map<string, ObjectInfo>()
  for await (const info of store.list(`${META}/`)) if (kindOf(info.key) !== null) out.set(info.key, info)
  return out
}

function storeFor (target: string | Store, options: StoreOptions): { store: Store, owned: boolean } {
  return typeof target === 'string' ? { store: openStore(target, options), owned: true } : { store: target, owned: false }
}

function conflict (key: string, where: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_META_HISTORY', `${where}: history file ${key} differs in size from the copy being synced; history files never change, so one of them is damaged (nothing after it was copied)`)
}

/** Copy the metadir at `base` to a store (a URL, or a Store you keep). */
export async function pushMetadir (base: string, target: string | Store, options: SyncOptions = {}): Promise<SyncResult> {
  checkSignal(options.signal)
  const { signal } = options
  throwIfAborted(signal)
  const { store, owned } = storeFor(target, options)
  const result: SyncResult = { copied: [], unchanged: 0, bytes: 0 }
  try {
    await mustBeMetadir(base)
    const remote = await untilAborted(remoteEntries(store), signal).catch((err: unknown) => { throw stoppedBy(signal, err, result) })
    for (const entry of await localEntries(base)) {
      const file = path.join(base, ...entry.key.split('/'))
      const there = remote.get(entry.key)
      if (there !== undefined && entry.kind === 'history') {
        if (there.size !== entry.size) throw conflict(entry.key, store.url)
        result.unchanged++
        continue
      }
      try {
        throwIfAborted(signal)
        if (entry.kind === 'pointer') {
          const body = await fs.readFile(file)
          if (there?.size === body.length && (await untilAborted(buffer(store.get(entry.key)), signal)).equals(body)) {
            result.unchanged++
            continue
          }
          await putUnlessStopped(store, entry.key, body, signal)
        } else {
          await putUnlessStopped(store, entry.key, createReadStream(file), signal)
        }
      } catch (err) {
        throw stoppedPartWay(err, result)
      }
      await copied(result, { key: entry.key, bytes: entry.size, kind: entry.kind }, options)
    }
  } finally {
    if (owned) await store.close()
  }
  return result
}

/** Copy a metadir from a store (a URL, or a Store you keep) into `base`. */
export async function pullMetadir (base: string, source: string | Store, options: SyncOptions = {}): Promise<SyncResult> {
  checkSignal(options.signal)
  const { signal } = options
  throwIfAborted(signal)
  const { store, owned } = storeFor(source, options)
  const result: SyncResult = { copied: [], unchanged: 0, bytes: 0 }
  try {
    await removeDeadDownloads(path.join(base, META, 'db'))
    const local = new Map((await localEntries(base)).map((e) => [e.key, e]))
    const remote = [...(await untilAborted(remoteEntries(store), signal).catch((err: unknown) => { throw stoppedBy(signal, err, result) })).values()].map((info): Entry => ({ key: info.key, size: info.size, kind: kindOf(info.key) as Entry['kind'] })).sort(syncOrder)
    // Most likely a mistyped URL (or a publisher that never pushed): say so, rather than "0 files copied".
    if (remote.length === 0) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${store.url}: no metadir there (nothing under ${META}/); nothing copied`)
    for (const entry of remote) {
      const file = path.join(base, ...entry.key.split('/'))
      const here = local.get(entry.key)
      if (entry.kind === 'history' && here !== undefined) {
        if (here.size !== entry.size) throw conflict(entry.key, file)
        result.unchanged++
        continue
      }
      try {
        throwIfAborted(signal)
        await ensureDir(path.dirname(file))
        if (entry.kind === 'history') {
          await downloadWhole(store, entry.key, file, signal)
        } else {
          const body = await untilAborted(buffer(store.get(entry.key)), signal)
          if (here?.size === body.length && (await fs.readFile(file)).equals(body)) {
            result.unchanged++
            continue
          }
          await writeFileDurably(file, body).catch((err: unknown) => { throw ioError(err, 'cannot write', file) })
        }
      } catch (err) {
        throw stoppedPartWay(err, result)
      }
      await copied(result, { key: entry.key, bytes: entry.size, kind: entry.kind }, options)
    }
  } finally {
    if (owned) await store.close()
  }
  return result
}

/** Pushing from a directory without _mmmeta/ (the wrong --metadir or working directory) copies nothing: an error, not "0 files copied". */
async function mustBeMetadir (base: string): Promise<void> {
  const dir = path.join(base, META)
  let stat
  try {
    stat = await fs.stat(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${dir}: no metadir here (no such directory); nothing copied`)
    throw ioError(err, 'cannot read', dir)
  }
  if (!stat.isDirectory()) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${dir}: no metadir here (not a directory); nothing copied`)
}

/**
 * A copy that failed at one file, saying what was copied before it: those
 * files stay (each whole), and a rerun copies only the rest. The error named
 * only the file it failed at, as if nothing had been copied.
 */
function stoppedPartWay (err: unknown, result: SyncResult): unknown {
  if (!(err instanceof ShoeboxError)) return err
  const kept = result.copied.length === 0 ? 'nothing copied' : `${plural(result.copied.length, 'file')} copied before it ${result.copied.length === 1 ? 'stays' : 'stay'}`
  return reworded(err, `${err.message}; ${kept}`)
}

/**
 * Write one object, stopped by `signal`: the writer destroyed leaves no object
 * and no multipart upload behind (ObjectWriter). A process killed outright
 * during a history file over the part size left its upload open on S3.
 */
async function putUnlessStopped (store: Store, key: string, body: Readable | Buffer, signal: AbortSignal | undefined): Promise<void> {
  await pipeline(Buffer.isBuffer(body) ? [body] : body, store.writer(key), { signal }).catch((err: unknown) => {
    throw signal?.aborted === true ? abortReason(signal) : err
  })
}

/** A listing the signal stopped says, as a copy does, that nothing was copied; its own failure is said as it is. */
function stoppedBy (signal: AbortSignal | undefined, err: unknown, result: SyncResult): unknown {
  return signal?.aborted === true ? stoppedPartWay(err, result) : err
}

async function copied (result: SyncResult, file: SyncedFile, options: SyncOptions): Promise<void> {
  result.copied.push(file)
  result.bytes += file.bytes
  await options.onFile?.(file)
}

/**
 * A history file written beside its name (a dot-name history ignores), fsynced, then renamed: never half there.
 * The temporary name holds the host and the writer, its pid and start (`.NAME~<host>~<writer>~<hex>.tmp`, the
 * writer as in roll/names.ts): one a pull killed mid-download
 * leaves is removed by the next pull (removeDeadDownloads), where it stayed in db/ for good. It is registered
 * (writingTemp) from before it exists until it is renamed or removed: a pid comes back (a container's command is
 * pid 1 on every run), and this process's own pid in the name says a live pull only for a file it registered.
 */
async function downloadWhole (store: Store, key: string, file: string, signal: AbortSignal | undefined): Promise<void> {
  const temp = path.join(path.resolve(path.dirname(file)), `.${path.basename(file)}~${hostName()}~${writerTag()}~${randomSuffix()}.tmp`)
  writingTemp(temp)
  try {
    const out = createWriteStream(temp, { flags: 'wx' })
    await pipeline(store.get(key), out, { signal })
    await syncFile(temp)
    await fs.rename(temp, file)
    await syncDir(path.dirname(file))
  } catch (err) {
    await fs.unlink(temp).catch(() => {})
    if (signal?.aborted === true) throw abortReason(signal)
    throw ioError(err, 'cannot write', file)
  } finally {
    doneWritingTemp(temp)
  }
}

/** A download's temporary name: `.NAME~<host>~<writer>~<hex>.tmp` (the writer: `<pid>`, or `<pid>-<start>`). */
const DOWNLOAD = /^\..+~([^~]*)~([^~]+)~[0-9a-f]{12}\.tmp$/
/** The name earlier versions gave it, `.NAME.<pid>.<hex>.tmp`: no host (they took it for this host's). */
const PID_ONLY_DOWNLOAD = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/

/**
 * Remove from `dir` (db/) the history downloads that pulls killed part way left: of this host, and their pid
 * gone or now another process's (one that started otherwise than the name says), or this process's pid and not one of its downloads (leftByDeadWriter). One named `.NAME.<pid>.<hex>.tmp`
 * (earlier versions) is taken for this host's, as those versions took it. One named in the oldest way,
 * `.NAME.<hex>.tmp`, names no process: it stays (a pull takes no lock, so a live pull of an older version may be
 * writing it, and no age tells a stalled download from a dead one).
 */
async function removeDeadDownloads (dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    const file = path.join(path.resolve(dir), name)
    const m = DOWNLOAD.exec(name)
    const pidOnly = m === null ? PID_ONLY_DOWNLOAD.exec(name)?.[1] : undefined
    const dead = m !== null ? leftByDeadWriter(file, m[1], m[2]) : pidOnly !== undefined && leftByDeadWriter(file, hostName(), pidOnly)
    if (dead) await fs.unlink(file).catch(() => {})
  }
}
