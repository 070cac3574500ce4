/**
 * Shared by the conformance tests: start `serveEvents()` on port 0 in a
 * fresh directory, and talk Kronos to it over real HTTP, as a client would
 * (the helpers of Kronos's own kronos/tests/server.py, with their checks).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Test } from 'tap'
import { parseEvent, type JsonValue } from '../../lib/events/event-text.js'
import { serveEvents, type EventServer, type ServeEventsOptions } from '../../lib/events/server/serve-events.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { onReadOnlyMounts } from '../fixtures-roll/cli-child.js'
import { startS3, type TestS3 } from '../s3-server.js'

export type KronosEvent = { [key: string]: JsonValue }

export interface Reply {
  status: number
  headers: Headers
  text: string
}

let servers = 0
/** t.testdir() empties the directory each time it is called: once per test. */
const testDirs = new WeakMap<Test, string>()

/** A server on port 0 with its own data directory (several may run in one test). */
export async function start (t: Test, options: Partial<ServeEventsOptions> = {}): Promise<EventServer> {
  // Registered before t.testdir() is first called: tap then removes the directory after the teardowns,
  // not before them, and close() flushes into it (a flush into a removed directory fails the close).
  const started: { server?: EventServer } = {}
  t.teardown(async () => { await started.server?.close() })
  let dir = testDirs.get(t)
  if (dir === undefined) testDirs.set(t, dir = t.testdir())
  const data = path.join(dir, `server-${++servers}`)
  const server = await serveEvents({ data, port: 0, namespaces: ['kronos', 'namespace1', 'namespace2'], ...options })
  started.server = server
  return server
}

/** A test S3 server with bucket `events`, and the serveEvents() options that share `s3://events/PREFIX` on it. */
export async function sharedStore (t: Test, prefix = 'p'): Promise<{ s3: TestS3, shared: Pick<ServeEventsOptions, 'store' | 'storeOptions' | 'namespaces'> }> {
  const s3 = await startS3({ bucket: 'events' })
  t.teardown(async () => { await s3.stop() })
  const shared = {
    store: `s3://events/${prefix}`,
    storeOptions: { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials },
    namespaces: ['kronos']
  }
  return { s3, shared }
}

/** The run and pack objects collectors published under `s3://events/PREFIX`, sorted. */
export function storedObjects (s3: TestS3, prefix = 'p'): string[] {
  return s3.keys('events').filter((k) => k.startsWith(`${prefix}/runs/`) || k.startsWith(`${prefix}/packs/`))
}

/** Every pack collectors published under `s3://events/PREFIX` is named by its content (run-pack.ts): a key never holds two contents. */
export function packsNamedByContent (t: Test, s3: TestS3, prefix = 'p'): void {
  for (const key of s3.keys('events').filter((k) => k.startsWith(`${prefix}/packs/`))) {
    const hash = createHash('sha256').update(s3.object(key, 'events') as Buffer).digest('hex').slice(0, 32)
    t.equal(path.basename(key), `${hash}.pack`, `${key} holds the bytes its name says`)
  }
}

export async function request (url: string, path: string, init: { method?: string, body?: string, headers?: Record<string, string> } = {}): Promise<Reply> {
  const res = await fetch(url + path, { method: init.method ?? 'POST', body: init.body, headers: init.headers })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

export async function post (url: string, path: string, body: unknown): Promise<Reply> {
  return await request(url, path, { body: typeof body === 'string' ? body : JSON.stringify(body) })
}

export function json (reply: Reply): Record<string, unknown> {
  return JSON.parse(reply.text) as Record<string, unknown>
}

/** A put that must succeed (200 and @success), as Kronos's test helper asserts. */
export async function put (t: Test, url: string, events: Record<string, unknown[]>, namespace?: string): Promise<Record<string, unknown>> {
  const reply = await post(url, '/1.0/events/put', namespace === undefined ? { events } : { events, namespace })
  t.equal(reply.status, 200, 'put answers 200')
  const body = json(reply)
  t.equal(body['@success'], true, `put succeeds: ${reply.text}`)
  return body
}

/** The lines of a streamed body: each must end in CRLF. */
export function lines (reply: Reply): string[] {
  if (reply.text === '') return []
  if (!reply.text.endsWith('\r\n')) throw new Error(`streamed body does not end in CRLF: ${JSON.stringify(reply.text.slice(-20))}`)
  return reply.text.slice(0, -2).split('\r\n')
}

export async function get (t: Test, url: string, stream: string, startTime: number | bigint | string, endTime: number | bigint | string, extra: Record<string, unknown> = {}): Promise<KronosEvent[]> {
  const body = `{"stream": ${JSON.stringify(stream)}, "start_time": ${String(startTime)}, "end_time": ${String(endTime)}` +
    Object.entries(extra).map(([k, v]) => `, ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join('') + '}'
  const reply = await post(url, '/1.0/events/get', body)
  t.equal(reply.status, 200, `get answers 200: ${reply.text.slice(0, 200)}`)
  return lines(reply).map((l) => parseEvent(l) as KronosEvent)
}

export async function del (t: Test, url: string, stream: string, startTime: number, endTime: number, extra: Record<string, unknown> = {}): Promise<number> {
  const reply = await post(url, '/1.0/events/delete', { stream, start_time: startTime, end_time: endTime, ...extra })
  t.equal(reply.status, 200, 'delete answers 200')
  const body = json(reply)
  t.equal(body['@success'], true, `delete succeeds: ${reply.text}`)
  return ((body[stream] as Record<string, Record<string, number>>).shoebox).num_deleted
}

export async function streams (url: string, namespace?: string): Promise<string[]> {
  return lines(await post(url, '/1.0/streams', namespace === undefined ? {} : { namespace }))
}

export const times = (events: KronosEvent[]): unknown[] => events.map((e) => e['@time'])

export interface ServeProcess {
  child: ChildProcess
  url: string
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>
  /** What it printed on stdout so far. */
  stdout: () => string
}

/**
 * Start the real `shoebox serve` binary on port 0 (with `env` added to this
 * process's; `nodeArgs` before the script; under `fdLimit` open files, as
 * `ulimit -n` sets it; seeing the `readOnly` directories on read-only mounts,
 * onReadOnlyMounts(); as user `uid`, whose permission bits then count, where the
 * test runs as root, with `bin`, a buildCli() others can reach; `bitsCount`:
 * without root's override of permission bits, CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH, which setpriv(1) drops, so that the bits count for the
 * directories it owns too, the root of a namespace of onReadOnlyMounts() as well);
 * resolves once it printed its URL.
 */
export async function spawnServe (args: string[], env: Record<string, string> = {}, options: { fdLimit?: number, nodeArgs?: string[], readOnly?: string[], uid?: number, bin?: string, bitsCount?: boolean } = {}): Promise<ServeProcess> {
  // Another user's server through env(1) without NODE_OPTIONS: tap's spawn hook adds its process-tracking
  // import there, which writes into the checkout at exit (refused to another user).
  const served = [
    ...(options.bitsCount === true ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search'] : []),
    ...(options.uid === undefined ? [] : ['env', '-u', 'NODE_OPTIONS']),
    process.execPath, ...(options.nodeArgs ?? []), options.bin ?? cliBinary(), 'serve', '--port', '0', ...args
  ]
  const command = options.readOnly === undefined ? served : onReadOnlyMounts(options.readOnly, served)
  // exec: the shell becomes the server (one pid, signals reach it).
  const limited = options.fdLimit === undefined ? command : ['/bin/sh', '-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, ...command]
  const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }
  const child = spawn(limited[0], limited.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, ...ids })
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => { resolve({ code, signal, stderr }) })
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    void exited.then((e) => { reject(new Error(`shoebox serve exited (${e.code ?? e.signal}) before listening: ${e.stderr}`)) })
  })
  return { child, url, exited, stdout: () => out }
}

/** What the child prints on stderr, as it prints it. */
export function stderrOf (serve: ServeProcess): () => string {
  let text = ''
  serve.child.stderr?.on('data', (b: Buffer) => { text += b.toString() })
  return () => text
}

/** Wait until `done()` holds, checking every 50 ms; false after `ms`. */
export async function eventually (done: () => boolean | Promise<boolean>, ms = 30_000): Promise<boolean> {
  const until = Date.now() + ms
  while (!await done()) {
    if (Date.now() > until) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return true
}
