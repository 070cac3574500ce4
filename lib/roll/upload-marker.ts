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
 * A marker without them (written before they were noted), or another host's,
 * is taken for a dead process's, as before.
 */
import fs from 'node:fs'
import { hostName, isAlive } from './names.js'

/** Upload ids this process has in flight (one set however often the package is loaded, as names.ts's). */
const inFlight: Set<string> = ((globalThis as Record<symbol, Set<string> | undefined>)[Symbol.for('shoebox.uploadsInFlight')] ??= new Set<string>())

export interface NotedUpload {
  key: string
  uploadId: string
  /** The noting process is alive on this host and has not ended the upload: leave it. */
  live: boolean
  /** Who noted it, for messages: 'pid N'. */
  owner: string
}

/** Note `uploadId` (of `key`) in `marker`, synchronously: the id is on disk before any part is sent. Until uploadEnded(). */
export function noteUpload (marker: string, key: string, uploadId: string): void {
  inFlight.add(uploadId)
  fs.writeFileSync(marker, JSON.stringify({ key, uploadId, host: hostName(), pid: process.pid }))
}

/** This process's writer has completed or aborted `uploadId` (or it was never noted). */
export function uploadEnded (uploadId: string | undefined): void {
  if (uploadId !== undefined) inFlight.delete(uploadId)
}

/** What a marker's text says, or undefined when it names no upload (torn by a crash). */
export function parseUploading (text: string): NotedUpload | undefined {
  try {
    const noted = JSON.parse(text) as { key?: unknown, uploadId?: unknown, host?: unknown, pid?: unknown }
    if (typeof noted.key !== 'string' || typeof noted.uploadId !== 'string') return undefined
    const pid = typeof noted.pid === 'number' && Number.isSafeInteger(noted.pid) && noted.pid > 0 ? noted.pid : undefined
    const live = pid !== undefined && noted.host === hostName() && (pid === process.pid ? inFlight.has(noted.uploadId) : isAlive(pid))
    return { key: noted.key, uploadId: noted.uploadId, live, owner: `pid ${pid ?? '?'}` }
  } catch {
    return undefined
  }
}
