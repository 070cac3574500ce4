/**
 * One publisher at a time per metadir on a machine: `_mmmeta/.publish.lock`,
 * created whole by hard link (which fails if the name is taken, like
 * O_EXCL, but never shows a half-written lock), holding
 * `<pid> <host> <token>`. A lock whose pid is gone on this host is stale and
 * is broken: moved aside under a unique name, checked to be the stale one
 * (not a fresh lock another breaker just made), then removed. A live holder
 * is waited for, polling with growing pauses, up to `wait` ms.
 *
 * The lock is a dot-name outside db/, so mmmeta (and a sync of db/) never
 * sees it. Publishers on different machines sharing a metadir through a
 * network filesystem are not covered (pids are per host); the history stays
 * replayable then, as mmmeta's does, because every file is new and whole.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ShoeboxError } from '../errors.js'
import { describeIoError, ioError } from '../fs/io-error.js'
import { metaPaths } from './config.js'
import { doneWritingTemp, hostName, leftByDeadWriter, writingTemp } from '../roll/names.js'
import { holderAlive, processStart } from '../process-start.js'

export interface PublishLockOptions {
  /** How long to wait for a live holder, in ms (default 60000; 0: fail at once). */
  wait?: number
  /**
   * Told once when the lock is held by a live process and this call starts
   * waiting. What it returns is awaited; a rejection fails the call with its
   * error (the lock not taken).
   */
  onWait?: (holder: LockHolder) => unknown
  /**
   * Ends a wait at once (the lock not taken), rejecting with
   * SHOEBOX_ABORTED: a Ctrl-C waited up to `wait` for a pause to end.
   */
  signal?: AbortSignal
}

export interface LockHolder {
  pid: number
  host: string
  token: string
  /** When the holder started (process-start.ts), where known: a live pid that started otherwise is not the holder. */
  start?: string
}

export interface PublishLock {
  readonly path: string
  release: () => Promise<void>
}

export function publishLockPath (base: string): string {
  return path.join(metaPaths(base).metadir, '.publish.lock')
}

function parseHolder (text: string): LockHolder | null {
  // A fourth field, the start: read by versions before it as the three (they split and take three).
  const [pid, host, token, start] = text.trim().split(' ')
  const n = Number(pid)
  if (!Number.isInteger(n) || n <= 0 || host === undefined || token === undefined) return null
  return start === undefined ? { pid: n, host, token } : { pid: n, host, token, start }
}

/** A waiter's temporary: `.publish.lock.<pid>.<token>.tmp`, and `.publish.lock.<token>.tmp` as the first versions named it. */
const WAITER_TEMP = /^\.publish\.lock\.(?:\d+\.)?[0-9a-f]{16}\.tmp$/

/**
 * Is `name` in `dir` (_mmmeta/) the temporary of a lock that a publisher
 * killed while waiting left? Such a file is never linked or removed by anyone
 * else. Judged by what it holds, `<pid> <host> <token>` (every version wrote
 * that, so a name without the pid is judged too): of this host, and its pid
 * gone or now another process's (one that started otherwise than the start
 * it holds), or this process's pid and not one of its waits (leftByDeadWriter: a
 * pid comes back, as a container's pid 1 does). One that holds no whole
 * holder (a waiter killed between creating and writing it) or another host's
 * stays.
 */
export async function deadWaiterTemp (dir: string, name: string): Promise<boolean> {
  if (!WAITER_TEMP.test(name)) return false
  const file = path.resolve(dir, name)
  const holder = await fs.readFile(file, 'utf8').then(parseHolder, () => null)
  return holder !== null && holder.host === os.hostname() && leftByDeadWriter(file, hostName(), { pid: holder.pid, start: holder.start })
}

async function readHolder (file: string): Promise<LockHolder | null | undefined> {
  try {
    return parseHolder(await fs.readFile(file, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined // released meanwhile
    throw ioError(err, 'cannot read the lock', file)
  }
}

/** Break `lock` if it still is the stale lock `holder` wrote. */
async function breakStale (lock: string, holder: LockHolder): Promise<void> {
  const aside = `${lock}.${randomBytes(6).toString('hex')}.stale`
  try {
    await fs.rename(lock, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw ioError(err, 'cannot break the stale lock', lock)
  }
  const moved = await readHolder(aside)
  if (moved !== undefined && moved !== null && moved.token !== holder.token) {
    // a fresh lock taken between our read and the rename: give it back (its name is free: we hold it aside)
    await fs.link(aside, lock).catch(() => {})
  }
  await fs.unlink(aside).catch(() => {})
}

/** Sleep `ms`, or reject as soon as `signal` aborts. */
async function pauseUnlessAborted (ms: number, lock: string, signal: AbortSignal | undefined): Promise<void> {
  try {
    if (signal?.aborted === true) throw signal.reason
    await sleep(ms, undefined, { signal })
  } catch (err) {
    if (signal?.aborted !== true) throw err
    throw new ShoeboxError('SHOEBOX_ABORTED', `${lock}: the wait for another publisher was aborted; the lock not taken`, { cause: signal.reason })
  }
}

/** Take the publisher lock of the metadir at `base` (its _mmmeta/ must exist). */
export async function acquirePublishLock (base: string, options: PublishLockOptions = {}): Promise<PublishLock> {
  const lock = publishLockPath(base)
  const wait = options.wait ?? 60000
  const start = processStart(process.pid)
  const me: LockHolder = { pid: process.pid, host: os.hostname(), token: randomBytes(8).toString('hex'), ...start !== undefined && { start } }
  // A publisher killed while it waits leaves this file, which the next one removes (deadWaiterTemp). Registered
  // (writingTemp) from before it exists until it is removed: this process's pid in it says a live waiter only then.
  const temp = path.resolve(`${lock}.${me.pid}.${me.token}.tmp`)
  writingTemp(temp)
  await fs.writeFile(temp, `${me.pid} ${me.host} ${me.token}${start === undefined ? '' : ` ${start}`}\n`).catch(async (err: unknown) => {
    // A full disk fails the write after the file was made: it goes too.
    await fs.unlink(temp).catch(() => {})
    doneWritingTemp(temp)
    // A read-only or full _mmmeta/: said naming the lock (the temporary one is never there), and what was kept.
    throw new ShoeboxError('SHOEBOX_IO', `cannot take the publisher lock ${lock}: ${describeIoError(err)}; nothing written, the meta db is as it was`, { cause: err })
  })
  // Monotonic: on Date.now(), a wall clock stepped back while waiting (NTP, a resumed VM) made the wait as much longer.
  const deadline = performance.now() + wait
  let pause = 5
  let told = false
  try {
    for (;;) {
      try {
        await fs.link(temp, lock)
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(err, 'cannot create the lock', lock)
      }
      const holder = await readHolder(lock)
      if (holder === undefined) continue
      // unreadable content is a lock killed between create and write (not possible with link) or foreign: treat as live
      // Its pid gone, or now another process's (one that started otherwise: a reboot, a kill long ago).
      if (holder !== null && holder.host === me.host && !holderAlive(holder.pid, holder.start)) {
        await breakStale(lock, holder)
        continue
      }
      if (performance.now() >= deadline) {
        const who = holder === null ? 'an unknown holder' : `pid ${holder.pid} on ${holder.host}`
        throw new ShoeboxError('SHOEBOX_META_LOCKED', `${lock}: another publisher (${who}) holds the metadir; waited ${wait} ms (remove the file if that process is gone)`)
      }
      if (!told && holder !== null) {
        told = true
        await options.onWait?.(holder)
      }
      await pauseUnlessAborted(Math.min(pause, Math.max(1, deadline - performance.now())), lock, options.signal)
      pause = Math.min(pause * 2, 250)
    }
  } finally {
    await fs.unlink(temp).catch(() => {})
    doneWritingTemp(temp)
  }
  let released = false
  return {
    path: lock,
    async release () {
      if (released) return
      released = true
      // remove it only if it still is ours (a holder judged stale by mistake is never unlinked by the wrong owner)
      const holder = await readHolder(lock)
      if (holder?.token === me.token) await fs.unlink(lock).catch(() => {})
    }
  }
}
