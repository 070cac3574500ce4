/**
 * The `.NAME.uploading` marker: the multipart upload a process has in flight
 * for NAME, noted the moment the server assigns its id, so that one a killed
 * process left open is aborted by the next uploader of the directory
 * (uploader.ts). It names its process (host and pid) too: two uploaders
 * draining one directory (two writers' sinks, `shoebox upload`) each took
 * the other's live marker for a dead one and aborted the upload in flight,
 * failing its try. A marker of a live process on this host is left alone;
 * for this process's own pid, only an upload it has in flight is live (a
 * restarted container's writer has the pid of the killed one; see names.ts).
 * It also notes when that process started (../process-start.ts): a pid
 * comes back, and a marker whose pid now runs a process that started
 * otherwise is a dead process's (with the pid alone, as markers written
 * before the start was noted hold, a running pid is the noting process's).
 * A marker without host and pid (written before they were noted), or another host's,
 * is taken for a dead process's, as before.
 *
 * Before the upload is created the marker notes the intent alone (noteIntent:
 * the key and when, no id yet): a process killed after the server created
 * the upload and before its id reached the disk left that upload open with
 * nothing naming it. The next start, finding a dead process's note without
 * an id, lists that key's open uploads and aborts those begun since the note
 * (uploader.ts). Only where the server lists uploads: elsewhere the note is
 * advice, removed as a torn marker is.
 */
import fs from 'node:fs'
import { holderAlive, ownStart } from '../process-start.js'
import { hostName } from './names.js'

/** Upload ids this process has in flight (one set however often the package is loaded, as names.ts's). */
const inFlight: Set<string> = ((globalThis as Record<symbol, Set<string> | undefined>)[Symbol.for('shoebox.uploadsInFlight')] ??= new Set<string>())

export interface NotedUpload {
  key: string
  /** Undefined for a note of intent: the process may have died before the server's answer reached it. */
  uploadId: string | undefined
  /** When the intent was noted (Date.now() of the noting process), for a note without an id. */
  since: number | undefined
  /** The noting process is alive on this host and has not ended the upload: leave it. */
  live: boolean
  /** Who noted it, for messages: 'pid N'. */
  owner: string
}

/** Note `uploadId` (of `key`) in `marker`, synchronously: the id is on disk before any part is sent. Until uploadEnded(). */
export function noteUpload (marker: string, key: string, uploadId: string): void {
  inFlight.add(uploadId)
  fs.writeFileSync(marker, JSON.stringify({ key, uploadId, ...owner() }))
}

let intents = 0

/** Who notes a marker: this host, this pid, and when this process started where known (process-start.ts: a pid comes back). */
function owner (): { host: string, pid: number, start?: string } {
  const start = ownStart()
  return { host: hostName(), pid: process.pid, ...start !== undefined && { start } }
}

/**
 * Note in `marker`, synchronously, that a multipart upload of `key` is about to be created: no id yet, but when.
 * Returns the note's own token, live (as an id is) until uploadEnded(token).
 */
export function noteIntent (marker: string, key: string): string {
  const intent = `intent-${process.pid}-${++intents}`
  inFlight.add(intent)
  fs.writeFileSync(marker, JSON.stringify({ key, intent, since: Date.now(), ...owner() }))
  return intent
}

/** This process's writer has completed or aborted `uploadId` (or it was never noted); also a noteIntent() token. */
export function uploadEnded (uploadId: string | undefined): void {
  if (uploadId !== undefined) inFlight.delete(uploadId)
}

/** What a marker's text says, or undefined when it names no upload (torn by a crash). */
export function parseUploading (text: string): NotedUpload | undefined {
  try {
    const noted = JSON.parse(text) as { key?: unknown, uploadId?: unknown, intent?: unknown, since?: unknown, host?: unknown, pid?: unknown, start?: unknown }
    if (typeof noted.key !== 'string') return undefined
    // A note of intent is only one with its time: without it, nothing tells its process's uploads from later ones.
    const intent = typeof noted.uploadId !== 'string' && typeof noted.intent === 'string' && typeof noted.since === 'number' && Number.isFinite(noted.since)
    if (typeof noted.uploadId !== 'string' && !intent) return undefined
    const token = typeof noted.uploadId === 'string' ? noted.uploadId : noted.intent as string
    const pid = typeof noted.pid === 'number' && Number.isSafeInteger(noted.pid) && noted.pid > 0 ? noted.pid : undefined
    const start = typeof noted.start === 'string' ? noted.start : undefined
    // Another pid running: the noting process unless it started otherwise (a pid comes back).
    const live = pid !== undefined && noted.host === hostName() && (pid === process.pid ? inFlight.has(token) : holderAlive(pid, start))
    return {
      key: noted.key,
      uploadId: intent ? undefined : token,
      since: intent ? noted.since as number : undefined,
      live,
      owner: `pid ${pid ?? '?'}`
    }
  } catch {
    return undefined
  }
}
