/**
 * serveEvents(): a Kronos-compatible event server (spec §4-§6) on shoebox's
 * own event store. Listens on 127.0.0.1 unless told otherwise. Per request:
 * route (404), CORS for listed origins, serving mode (403, before the
 * method, as Kronos), method (405 + Allow), OPTIONS, an unlisted Origin
 * (403: a web page's request), body with a cap (413),
 * then the endpoint. A bad request is always a 400 JSON answer in Kronos's
 * shape, never a crash.
 */
import { isUtf8 } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { givenValue, invalidOption, ShoeboxError } from '../../errors.js'
import { checkFlag, checkKnownOptions, durationOption, givenDuration, givenSize, MAX_TIMER_MS, oneOf, parseDuration, positiveCount, sizeOption, timerMs } from '../../units.js'
import { ensureDir, writeFileDurably } from '../../fs/durable.js'
import { onReadOnlyMount } from '../../fs/read-only-mount.js'
import { ioError } from '../../fs/io-error.js'
import type { StoreOptions } from '../../store/open-store.js'
import type { EventBackend } from '../store/event-backend.js'
import { EventStore } from '../store/event-store.js'
import { RemoteRuns } from '../store/remote-runs.js'
import { RunPublisher } from '../store/run-publisher.js'
import { capConnections, CONNECTIONS_CHECK_MS, DEFAULT_HEADERS_TIMEOUT_MS, defaultMaxConnections, defaultRequestTimeout } from './connection-limits.js'
import { applyCors, corsAllowList, unlistedOrigin } from './cors.js'
import { handleDelete } from './delete-endpoint.js'
import { failure, sendJson, sendNotFound } from './envelope.js'
import { handleGet } from './get-endpoint.js'
import { handleIndex } from './index-endpoint.js'
import { BLOCKED, INVALID_JSON, methodNotAllowed, originNotAllowed, storageError, tooLarge } from './kronos-errors.js'
import { handlePut } from './put-endpoint.js'
import { readBody } from './request-body.js'
import { BadRequest } from './request-params.js'
import { findRoute, modeAllows, SERVING_MODES, type EndpointName, type ServingMode } from './routes.js'
import { handleInferSchema } from './schema-endpoint.js'
import type { ServerContext } from './server-context.js'
import { handleStreams } from './streams-endpoint.js'

export type { ServingMode }

export interface ServeEventsOptions {
  /** The data directory of the event store (created if missing). Required, except for a readonly server on a shared store. */
  data?: string
  /** TCP port; 0 picks a free one. Default 8150 (Kronos's). */
  port?: number
  /** Interface to bind. Default '127.0.0.1': only this machine can connect unless you say otherwise. */
  host?: string
  /** Which endpoints answer: 'all' (default), 'readonly' (index, get, streams, infer_schema) or 'collector' (index, put). */
  mode?: ServingMode
  /** Namespaces served. Default ['kronos']. */
  namespaces?: readonly string[]
  /** The namespace of a request without one (or with null). Default 'kronos' if served, else the first of `namespaces`. */
  defaultNamespace?: string
  /** Origins allowed to read answers from a browser (exact match, e.g. 'https://app.example.com'). Default none. */
  corsOrigins?: readonly string[]
  /** Largest request body (413 above it). Default '16MiB', at most '256MiB' (a put's body is held in memory while it is stored). */
  maxBody?: number | string
  /** Largest single event text (refused, one by one, above it). Default '1MiB'. */
  maxEventSize?: number | string
  /**
   * The most distinct streams one put may name; a put naming more is refused
   * whole (413, nothing stored). Default 10,000. Each stream a put names
   * costs the server ~4 KB until it is written out (its columns, its log
   * record, its run file's writer) and ~600 bytes for good (its run's index
   * entry), against as little as 10 bytes of body: under the default
   * maxBody one put could name 1.5 million streams.
   */
  maxPutStreams?: number
  /** Drop whole time buckets older than this ('30d'). Default: keep everything. */
  retention?: number | string
  /**
   * The wall clock is right: retention drops by it at start even if it is more than the retention ahead of the
   * last retention pass, which is otherwise held and told to onBackgroundError (docs/EVENT-STORE.md). Only with
   * `retention`. Default false.
   */
  trustClock?: boolean
  /** Width of a time bucket (one run file per stream and bucket). Default '1d'. */
  bucket?: number | string
  /** Memtable size before it is written out as run files. Default '16MiB'. */
  memtableSize?: number | string
  /** The storage name in answers ({"s": {"shoebox": {"num_inserted": 3}}}). Default 'shoebox'. */
  backendName?: string
  /**
   * A shared store (s3://bucket/prefix, or a directory) for scale-out: a
   * `collector` uploads its runs (packed, run-publisher.ts) and index there; a `readonly` server answers
   * from every collector's published runs (no data directory needed).
   */
  store?: string
  /** Endpoint, region, credentials for an s3:// store (else from the environment). */
  storeOptions?: StoreOptions
  /** How often a readonly server reads the collectors' indexes again. Default '10s'. */
  pollInterval?: number | string
  /** How often a collector flushes (and publishes) at the latest. Default '10s'. */
  flushInterval?: number | string
  /** How long a collector keeps an object (a pack, or a run of its own) in the shared store once it replaced all its runs (readers may still be reading them). Default '1h'. */
  sweepAfter?: number | string
  /** A collector's name in the shared store (its own run and index keys). Default: made once and kept in the data directory. */
  collectorId?: string
  /** Compress run files (one gzip member per ~64 KiB block, still read block by block). Default false. */
  gzip?: boolean
  /** fsync before answering a put (default true). false loses acknowledged events on a power cut; only for tests and benchmarks that say so. */
  fsync?: boolean
  /** How long close() lets requests in flight finish before it cuts their connections. Default '5s'. */
  closeGrace?: number | string
  /**
   * How long a streamed answer (a get) may wait for its client to take the
   * next chunk before its connection is cut, as nginx's send_timeout. Default
   * '60s'; 0 never cuts.
   */
  sendTimeout?: number | string
  /**
   * The most connections open at once; one more is closed at once (keep-alive
   * ones count while open). Default: half the process's open-file limit, at
   * most 1000, leaving the rest to the store's own files (connection-limits.ts).
   */
  maxConnections?: number
  /** Told when connections beyond maxConnections start being closed, once per burst (again after a minute without one). Default: none. */
  onConnectionCap?: (maxConnections: number) => void
  /** How long a connection may take to send a request's head (then 408, closed). Default '20s'. */
  headersTimeout?: number | string
  /**
   * How long a connection may take to send a whole request, head and body
   * (then 408, closed: nothing of it is stored). Default: headersTimeout and
   * the time for maxBody at 64 KiB/s, at least 30 s (16MiB: 276 s).
   */
  requestTimeout?: number | string
  /**
   * Told of each failure the server carries on past, and tries again: a
   * flush, a collector's publish to the shared store, a reader's poll of it,
   * a put whose log append failed (answered 503) (also kept in
   * `store.lastError`). Default: none.
   */
  onBackgroundError?: (err: Error) => void
}

export interface EventServer {
  /** http://host:port, the base URL clients take. */
  readonly url: string
  readonly port: number
  readonly host: string
  /** The local EventStore, or (readonly on a shared store) the published runs, RemoteRuns. */
  readonly store: EventBackend
  /**
   * A readonly server whose data directory is on a read-only mount: it serves
   * the store as it was at start (its runs and its log), takes no lock and
   * writes nothing there; events written meanwhile through another mount are
   * not seen until a restart.
   */
  readonly readOnlyMount: boolean
  readonly server: Server
  /** Stop accepting, finish the requests in flight (cut after `closeGrace`), flush the store; rejects, once closed, if that flush failed. */
  close (): Promise<void>
}

/**
 * maxPutStreams's default. A put naming 300,000 one-event streams (4.4 MB)
 * took a server to 1.4 GB of RSS and wrote 300,000 run files; at 10,000 a
 * put's streams cost the server ~40 MB until they are runs (bench/RESULTS.md,
 * "serve: a put naming many streams"). shoebox's shipper names one stream
 * a put (a batch per stream: ship-batcher.ts).
 */
const DEFAULT_MAX_PUT_STREAMS = 10_000

/** The largest maxBody allowed. */
const MAX_BODY_CEILING = 256 * 1024 * 1024

const COLLECTOR_ID = /^[A-Za-z0-9_.-]{1,200}$/

/** Every option of ServeEventsOptions, for the refusal of one that is not. */
const SERVE_OPTIONS: ReadonlyArray<keyof ServeEventsOptions> = [
  'data', 'port', 'host', 'mode', 'namespaces', 'defaultNamespace', 'corsOrigins', 'maxBody', 'maxEventSize', 'maxPutStreams', 'retention', 'trustClock', 'bucket',
  'memtableSize', 'backendName', 'store', 'storeOptions', 'pollInterval', 'flushInterval', 'sweepAfter', 'collectorId', 'gzip', 'fsync',
  'closeGrace', 'sendTimeout', 'maxConnections', 'onConnectionCap', 'headersTimeout', 'requestTimeout', 'onBackgroundError'
]

/** What a collector's first look at its shared store refuses to start on; any other failure (down, 5xx, slow) is tried again. */
const REFUSED_AT_START: readonly string[] = ['SHOEBOX_INVALID_OPTION', 'SHOEBOX_NO_BUCKET', 'SHOEBOX_DENIED']

/** Kronos's flush size for streamed bodies. */
const FLUSH_SIZE = 131072

export async function serveEvents (options: ServeEventsOptions): Promise<EventServer> {
  const o = { ...options }
  // A misspelt option was ignored: { namespace: 'app' } (the CLI's flag is --namespace) served only 'kronos',
  // and every put to 'app' was refused as an unknown namespace.
  checkKnownOptions(o, SERVE_OPTIONS, 'serveEvents()')
  const mode = o.mode === undefined ? 'all' : o.mode
  oneOf(mode, SERVING_MODES, 'mode')
  // It names keys (runs/<id>/, index/<id>.json): a '/' would nest one collector's keys in another's listing.
  if (o.collectorId !== undefined && (typeof o.collectorId !== 'string' || !COLLECTOR_ID.test(o.collectorId) || /^\.+$/.test(o.collectorId))) {
    throw invalidOption('collectorId', `letters, digits, '_', '.' and '-' (1 to 200, not dots only), as it names keys in the store; got ${JSON.stringify(o.collectorId)}`)
  }
  const remoteReader = o.store !== undefined && mode === 'readonly'
  if (o.store !== undefined && mode === 'all') throw invalidOption('store', "a shared store is for mode 'collector' (puts) or 'readonly' (reads)")
  // A shared store's servers' own options did nothing on any other server, without a word (--collector-id
  // on a local server looked like a scale-out set up; --flush-interval 1s on one wrote no run any sooner).
  for (const [option, role] of [['collectorId', 'collector'], ['sweepAfter', 'collector'], ['flushInterval', 'collector'], ['pollInterval', 'readonly']] as const) {
    if (o[option] !== undefined && (o.store === undefined || mode !== role)) {
      throw invalidOption(option, `is for mode '${role}' with a shared store (store); this server ${o.store === undefined ? 'has none' : `is mode '${mode}'`}`)
    }
  }
  if (!remoteReader && (typeof o.data !== 'string' || o.data === '')) throw invalidOption('data', 'the data directory is required')
  // Only undefined is "not given": a null option is refused as any other value it does not take.
  if (o.namespaces !== undefined && !Array.isArray(o.namespaces)) throw invalidOption('namespaces', `a list of non-empty names, got ${givenValue(o.namespaces)}`)
  const namespaces = [...(o.namespaces ?? ['kronos'])]
  if (namespaces.length === 0 || namespaces.some((n) => typeof n !== 'string' || n === '')) throw invalidOption('namespaces', 'a list of non-empty names')
  const defaultNamespace = o.defaultNamespace === undefined ? (namespaces.includes('kronos') ? 'kronos' : namespaces[0]) : o.defaultNamespace
  if (!namespaces.includes(defaultNamespace)) throw invalidOption('defaultNamespace', `'${defaultNamespace}' is not one of the namespaces`)
  const port = o.port === undefined ? 8150 : o.port
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidOption('port', `must be 0..65535, got ${givenValue(port)}`)
  const maxBody = sizeOption(o.maxBody, '16MiB', 'maxBody')
  // A body is read whole into memory, and its events are held beside it until stored: a cap of '1TB' is no cap.
  if (maxBody > MAX_BODY_CEILING) throw invalidOption('maxBody', `must be at most 256MiB (a put's body is held in memory while it is stored), got ${givenSize(o.maxBody, maxBody)}`)
  // 0 is no "no cap" (as a timeout's 0 is "never"): it would refuse every request, or every event.
  if (maxBody < 1) throw invalidOption('maxBody', `must be above 0 (every request would be refused as too large; there is no unlimited: at most 256MiB), got ${givenSize(o.maxBody, maxBody)}`)
  const maxEventSize = sizeOption(o.maxEventSize, '1MiB', 'maxEventSize')
  if (maxEventSize < 1) throw invalidOption('maxEventSize', `must be above 0 (every event would be refused as too large), got ${givenSize(o.maxEventSize, maxEventSize)}`)
  const maxPutStreams = positiveCount(o.maxPutStreams, DEFAULT_MAX_PUT_STREAMS, 'maxPutStreams')
  const retentionMs = o.retention === undefined ? undefined : parseDuration(o.retention, 'retention')
  checkFlag(o.trustClock, 'trustClock')
  if (o.trustClock === true && retentionMs === undefined) throw invalidOption('trustClock', 'only does something with retention (the clock is judged before retention drops by it)')
  const bucketMs = durationOption(o.bucket, '1d', 'bucket')
  if (bucketMs < 1) throw invalidOption('bucket', 'must be at least 1ms')
  const memtableSize = sizeOption(o.memtableSize, '16MiB', 'memtableSize')
  const host = hostOption(o.host)
  const cors = corsAllowList(o.corsOrigins)

  const pollMs = durationOption(o.pollInterval, '10s', 'pollInterval')
  const flushMs = durationOption(o.flushInterval, '10s', 'flushInterval')
  const sweepAfterMs = durationOption(o.sweepAfter, '1h', 'sweepAfter')
  const closeGraceMs = durationOption(o.closeGrace, '5s', 'closeGrace')
  // 60 s, nginx's send_timeout: only a client taking less than one 128 KiB chunk a minute
  // (~2.2 KB/s) is cut, and a get so cut resumes after its last @id (client-get.ts).
  const sendTimeoutMs = durationOption(o.sendTimeout, '60s', 'sendTimeout')
  if (sendTimeoutMs > MAX_TIMER_MS) throw invalidOption('sendTimeout', `must be at most ${MAX_TIMER_MS} ms (a timer's limit), got ${givenDuration(o.sendTimeout, sendTimeoutMs)}`)
  const maxConnections = positiveCount(o.maxConnections, defaultMaxConnections(), 'maxConnections')
  // Node reads 0 as "never": a connection that sends nothing would hold its slot for ever.
  const headersTimeoutMs = durationOption(o.headersTimeout, DEFAULT_HEADERS_TIMEOUT_MS, 'headersTimeout')
  if (headersTimeoutMs < 1) throw invalidOption('headersTimeout', 'must be at least 1ms')
  const requestTimeoutMs = o.requestTimeout === undefined ? defaultRequestTimeout(maxBody, headersTimeoutMs) : parseDuration(o.requestTimeout, 'requestTimeout')
  if (requestTimeoutMs < headersTimeoutMs) throw invalidOption('requestTimeout', `must be at least headersTimeout (${headersTimeoutMs} ms), got ${givenDuration(o.requestTimeout, requestTimeoutMs)}`)
  // serve.pid keeps another process off the directory, not another server of this one (its pid is ours).
  // By its real path: the same directory through a symlink (or a bind mount's other name) was another.
  const served = remoteReader ? undefined : await fs.realpath(o.data as string).catch(() => path.resolve(o.data as string))
  if (served !== undefined) {
    if (SERVED_HERE.has(served)) throw new ShoeboxError('SHOEBOX_IO', `event store ${String(o.data)} is in use by this process (a server not closed yet: close() it first)`)
    SERVED_HERE.add(served)
  }
  let store: EventBackend
  try {
    store = await openBackend(o, mode, remoteReader, { memtableSize, bucketMs, retentionMs, pollMs, flushMs, sweepAfterMs })
  } catch (err) {
    if (served !== undefined) SERVED_HERE.delete(served)
    throw err
  }
  const ctx: ServerContext = {
    store,
    namespaces: new Set(namespaces),
    defaultNamespace,
    backend: o.backendName ?? 'shoebox',
    flushSize: FLUSH_SIZE,
    sendTimeoutMs,
    maxEventSize,
    maxPutStreams,
    nodeId: nodeId()
  }
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(ctx, mode, cors, maxBody, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, failure([storageError(err)]), process.hrtime.bigint())
      else res.destroy()
    })
  }
  const server = http.createServer({ maxHeaderSize: 16 * 1024, headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: CONNECTIONS_CHECK_MS }, onRequest)
  // Expect: 100-continue: Node answers 100 at once unless told otherwise, so a client sent a body over the cap
  // (or one refused by mode, origin or route) before it heard 413 or 403. handle() sends the 100 (readBody's
  // onReady) only once the request passed every check that answers without reading the body.
  server.on('checkContinue', onRequest)
  capConnections(server, maxConnections, o.onConnectionCap)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await store.close()
    if (served !== undefined) SERVED_HERE.delete(served)
    throw err
  }
  const address = server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  let closing: Promise<void> | undefined
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    host: address.address,
    store,
    readOnlyMount: store instanceof EventStore && store.readOnly,
    server,
    close () {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
        server.closeIdleConnections()
        // A client that stops reading a get (or sending a body) would hold the
        // server open for ever: after the grace its connection is cut. A get
        // cut so resumes after its last @id; a put cut before its answer was
        // not acknowledged, and the shipper sends it again.
        const cut = setTimeout(() => { server.closeAllConnections() }, timerMs(closeGraceMs))
        await closed
        clearTimeout(cut)
        try {
          await store.close()
        } finally {
          if (served !== undefined) SERVED_HERE.delete(served)
        }
      })()
      return closing
    }
  }
}

/** The data directories (resolved) of this process's servers not closed yet. */
const SERVED_HERE = new Set<string>()

/**
 * The interface to bind: a name or an address, '127.0.0.1' when not given.
 * Node reads '' (and null) as "every interface": `--host ""` opened the
 * server to the network without a word. Refused, as a name with spaces
 * around it (a lookup that fails only once the store is open).
 */
function hostOption (value: unknown): string {
  if (value === undefined) return '127.0.0.1'
  if (typeof value !== 'string' || value === '' || value.trim() !== value) {
    throw invalidOption('host', `must be an interface's name or address (such as 127.0.0.1, :: or localhost), got ${givenValue(value)}`)
  }
  return value
}

/** The storage a server answers from: a local store (publishing to a shared one for a collector), or a shared store's runs. */
async function openBackend (
  o: ServeEventsOptions, mode: ServingMode, remoteReader: boolean, n: { memtableSize: number, bucketMs: number, retentionMs: number | undefined, pollMs: number, flushMs: number, sweepAfterMs: number }
): Promise<EventBackend> {
  const { openStore } = await import('../../store/open-store.js')
  if (remoteReader) return await RemoteRuns.open(openStore(o.store as string, o.storeOptions), n.pollMs, o.onBackgroundError)
  const data = o.data as string
  // Only a readonly server reads a store it cannot lock: one that takes puts must write its log there.
  if (mode === 'readonly' && await onReadOnlyMount(data)) {
    return await EventStore.open({ dir: data, memtableSize: n.memtableSize, bucketMs: n.bucketMs, readOnly: true, onError: o.onBackgroundError })
  }
  let publisher: RunPublisher | undefined
  if (o.store !== undefined) {
    // Opened (its URL and options checked) before the data directory is made: a refused endpoint made it, with
    // the collector's id and instance files in it.
    const shared = openStore(o.store, o.storeOptions)
    await ensureDir(data)
    const collector = o.collectorId ?? await keptName(path.join(data, 'collector-id'), () => `${os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(4).toString('hex')}`)
    const instance = await keptName(path.join(data, 'collector-instance'), () => randomBytes(8).toString('hex'))
    publisher = new RunPublisher(shared, collector, path.join(data, 'runs'), { instance, sweepAfterMs: n.sweepAfterMs })
    // An id another data directory publishes under, a bucket that does not exist, credentials refused: said now, not
    // at each publish behind the server's back. A store that cannot answer yet is no reason not to take puts: the
    // publishes try again.
    await publisher.claim().catch((err: ShoeboxError) => { if (REFUSED_AT_START.includes(err.code)) throw err })
  }
  return await EventStore.open({
    dir: data,
    memtableSize: n.memtableSize,
    bucketMs: n.bucketMs,
    retentionMs: n.retentionMs,
    trustClock: o.trustClock ?? false,
    fsync: o.fsync ?? true,
    gzip: o.gzip ?? false,
    publisher,
    flushIntervalMs: publisher === undefined ? undefined : n.flushMs,
    onError: o.onBackgroundError
  })
}

/**
 * A name made once and kept in the data directory: the collector's id (host
 * and random hex), so a restart publishes under the same keys, and the
 * directory's instance token (run-publisher.ts).
 */
async function keptName (file: string, make: () => string): Promise<string> {
  const existing = await fs.readFile(file, 'utf8').catch(() => '')
  if (/^[A-Za-z0-9_.-]+$/.test(existing.trim())) return existing.trim()
  const name = make()
  // Named: a full disk said only "ENOSPC: no space left on device, write", not which file.
  await writeFileDurably(file, name + '\n').catch((err: unknown) => { throw ioError(err, 'cannot write', file) })
  return name
}

const POST_HANDLERS: Record<Exclude<EndpointName, 'index' | 'put'>, (ctx: ServerContext, text: string, res: ServerResponse, started: bigint) => Promise<void>> = {
  get: handleGet,
  delete: handleDelete,
  streams: handleStreams,
  infer_schema: handleInferSchema
}

async function handle (ctx: ServerContext, mode: ServingMode, cors: ReadonlySet<string>, maxBody: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = process.hrtime.bigint()
  const route = findRoute(req.url)
  if (route === undefined) {
    sendNotFound(res)
    return
  }
  const methods = route.methods.join(', ')
  applyCors(req, res, cors, methods)
  if (!modeAllows(mode, route.endpoint)) {
    sendJson(res, 403, failure([BLOCKED]), started)
    return
  }
  const method = req.method ?? 'GET'
  if (!route.methods.includes(method)) {
    res.setHeader('Allow', methods)
    sendJson(res, 405, failure([methodNotAllowed(method)]), started)
    return
  }
  if (method === 'OPTIONS') {
    res.statusCode = 200
    res.end()
    return
  }
  const foreign = unlistedOrigin(req, cors)
  if (foreign !== undefined) {
    // Before the body is read: a cross-site put or delete does nothing.
    sendJson(res, 403, failure([originNotAllowed(foreign)]), started)
    return
  }
  if (route.endpoint === 'index') {
    handleIndex(ctx, res, started)
    return
  }
  const body = await readBody(req, maxBody, () => { res.writeContinue() })
  if (body.kind === 'aborted') {
    res.destroy()
    return
  }
  if (body.kind === 'too-large') {
    // The rest of the body is not read: the connection cannot be reused.
    res.setHeader('Connection', 'close')
    sendJson(res, 413, failure([tooLarge('request body', maxBody)]), started)
    return
  }
  try {
    // A put walks the body's bytes; the others read its text.
    if (route.endpoint === 'put') {
      await handlePut(ctx, body.bytes, res, started)
    } else {
      // ujson, Kronos's parser, refuses invalid UTF-8 (a put checks its own): decoded, it would be U+FFFD and answered.
      if (!isUtf8(body.bytes)) throw new BadRequest([INVALID_JSON])
      await POST_HANDLERS[route.endpoint](ctx, body.text, res, started)
    }
  } catch (err) {
    if (!(err instanceof BadRequest) || res.headersSent) throw err
    const answer: Record<string, unknown> = { '@errors': err.errors }
    if (!err.noSuccess) answer['@success'] = false
    sendJson(res, err.status, answer, started, { noTook: err.noTook })
  }
}

/**
 * Like Kronos's hex(uuid.getnode()): the first non-internal interface's MAC
 * as Python 2 writes a long in hex, with its L (spec §5.1 observed
 * "0x2fc00000001L": getnode() gives a UUID's node field, a long).
 */
function nodeId (): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) {
      if (!i.internal && i.mac !== '00:00:00:00:00:00') return `0x${i.mac.replace(/:/g, '').replace(/^0+/, '')}L`
    }
  }
  return `0x${process.pid.toString(16)}L`
}
