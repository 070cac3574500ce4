/**
 * What one client may hold of the server: how many connections are open at
 * once, and how long a request may take to arrive.
 *
 * Every connection is a file descriptor. Without a cap, a flood of idle
 * connections (a slowloris, a health checker gone wrong, a client pool that
 * leaks) took every descriptor the process may open, and the store's own
 * file work failed with EMFILE: the event log could not open its next file
 * (and then refused every put until a restart; now only the flush fails, and
 * is tried again), a flush its run files. With the cap the store keeps its
 * share: a connection beyond it is closed at once (Node's
 * `server.maxConnections`; an idle keep-alive connection counts too).
 *
 * Node's own timeouts end what a capped slot is held by: a connection that
 * sends no complete request head within `headersTimeout`, or no whole
 * request within `requestTimeout`, is answered 408 and closed (Node checks
 * every `connectionsCheckingInterval`, 30 s by default: 1 s here).
 */
import fs from 'node:fs'
import type http from 'node:http'

/** The most connections by default, whatever the descriptor limit: an idle Node connection costs tens of KiB of memory. */
const DEFAULT_MAX_CONNECTIONS = 1000

/** How often Node looks for requests past their timeouts (at its default, 30 s, a 20 s headers timeout could run to 50 s). */
export const CONNECTIONS_CHECK_MS = 1000

/** The default time to send a request head: nginx's client_header_timeout is 60 s between reads; 20 s for the whole head, which a client sends at once. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000

/**
 * The slowest body the default request timeout allows for, 64 KiB/s (a poor
 * mobile uplink): a body of --max-body 16MiB has 256 s, about Node's own
 * default (300 s) for every request, and one of 1MiB 30 s (the least given).
 */
const SLOWEST_BODY_BYTES_PER_S = 64 * 1024
const LEAST_BODY_MS = 30_000

/** After a minute without a connection closed at the cap, the next one is a new burst, and said again. */
const BURST_GAP_MS = 60_000

/**
 * The soft limit on open files of this process (Node raises it to the hard
 * limit at start), from /proc/self/limits; undefined where that file is not
 * (not Linux) or says "unlimited". `ulimit -n` is not in Node's API.
 */
export function openFileLimit (): number | undefined {
  let limits: string
  try {
    limits = fs.readFileSync('/proc/self/limits', 'utf8')
  } catch {
    return undefined
  }
  return openFileLimitIn(limits)
}

/** The soft "Max open files" of a /proc/<pid>/limits text; undefined for "unlimited" or none. */
export function openFileLimitIn (limits: string): number | undefined {
  const m = /^Max open files\s+(\d+)/m.exec(limits)
  return m === null ? undefined : Number(m[1])
}

/**
 * Half the descriptor limit, at most 1000 (1000 where the limit is not
 * known): the other half is the store's (its log and the log's sync handles,
 * twice over while it switches files, a flush's run files, a merge's inputs,
 * the run files each get reads, a collector's uploads) and Node's own (~25).
 * The common `ulimit -n` 1024 gives 512 connections.
 */
export function defaultMaxConnections (fdLimit = openFileLimit()): number {
  if (fdLimit === undefined) return DEFAULT_MAX_CONNECTIONS
  return Math.max(1, Math.min(DEFAULT_MAX_CONNECTIONS, Math.floor(fdLimit / 2)))
}

/**
 * What to tell the operator of a --max-connections above the default's
 * share (half the descriptor limit), or undefined: such a cap lets a flood
 * take the descriptors the store needs, which the cap is there to prevent.
 * Taken all the same: the operator may know the store needs few (or raise
 * the limit before the flood comes).
 */
export function connectionCapWarning (max: number, fdLimit: number | undefined): string | undefined {
  if (fdLimit === undefined || max <= defaultMaxConnections(fdLimit)) return undefined
  return `--max-connections ${max} is more than half of the ${fdLimit} files this process may open (ulimit -n): ` +
    'a flood of connections could leave the store none, and its puts would fail (EMFILE) until connections end; ' +
    `raise ulimit -n to ${2 * max} or more, or leave --max-connections at its default (${defaultMaxConnections(fdLimit)})`
}

/** The default time for a whole request: its head's time, and its body's at the slowest rate allowed for --max-body. */
export function defaultRequestTimeout (maxBody: number, headersTimeoutMs: number): number {
  return headersTimeoutMs + Math.max(LEAST_BODY_MS, Math.ceil(maxBody / SLOWEST_BODY_BYTES_PER_S * 1000))
}

/**
 * Close connections beyond `max` at once. `onCapped` is told when that
 * starts, once per burst (again only after a minute without one closed): a
 * flood must not flood the log as well.
 */
export function capConnections (server: http.Server, max: number, onCapped: ((max: number) => void) | undefined): void {
  server.maxConnections = max
  let lastDrop = -Infinity
  server.on('drop', () => {
    const now = performance.now()
    if (now - lastDrop > BURST_GAP_MS) onCapped?.(max)
    lastDrop = now
  })
}
