/** shoebox serve: the Kronos-compatible event server on a local event store. */
import path from 'node:path'
import type { Command } from './command.js'
import { givenValue, reworded, ShoeboxError } from '../errors.js'
import { describeIoError } from '../fs/io-error.js'
import { misdecodedDirectory } from '../fs/undecoded-path.js'
import { parseDuration } from '../units.js'
import { checkLocalDir, usage } from './io.js'
import { oneLine } from './one-line.js'
import { asUsage, oneOf, parse, positiveInteger, wholeNumber } from './options.js'
import { connectionCapWarning, openFileLimit } from '../events/server/connection-limits.js'
import { quietRepeats } from './repeat-quieter.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import { storeUrlArg } from './store-url-arg.js'
import { onFirstSignal } from './interrupt.js'

/** The same failure line (a full disk refuses every put) is written at most this often. */
const REPEAT_EVERY_MS = 30_000

const help = `Usage: shoebox serve [options]

Serves Kronos's HTTP API (/1.0/events/put, get, delete, /1.0/streams,
/1.0/streams/infer_schema, /1.0/index): existing Kronos clients (pykronos,
kronos.js) and shoebox's own client and shipper work against it unchanged.
Events are stored in DIR: a put is answered once its events are fsynced.
Prints the URL it listens on. SIGINT or SIGTERM stop it cleanly (requests in
flight get 5s, then their connections are cut; a collector says that it
publishes its last runs, and a second signal stops it at once, the events
not published kept in DIR). A get whose client takes no
data for 60s is cut (clients resume after their last @id). A connection that
sends no request head within 20s, or no whole request within the time
--max-body takes at 64 KiB/s (at least 30s more), is answered 408 and closed.

Scale-out: with --store (s3://bucket/prefix, or a directory), a --mode
collector server uploads its sorted runs and its index there (at the latest
every --flush-interval), and any number of --mode readonly servers answer
from every collector's runs, reading the indexes again every --poll-interval.
A publish or a poll the store refuses is printed on stderr (one line, naming
the store) and tried again at the next interval.
A put the data directory cannot take (a full disk) is answered 503 and said
on stderr; the same line at most every 30s. If the last flush fails when it
stops, it says so and exits 1: those events stay in DIR/wal for the next start.

Options:
  --data DIR            the event store's directory (default ./shoebox-events)
  --port N              TCP port (default 8150; 0 picks a free one)
  --host H              interface to bind (default 127.0.0.1: this machine only)
  --mode M              all | readonly | collector (default all)
  --namespace NAME      a namespace to serve (repeatable; default kronos)
  --retention T         drop whole days of events older than T, e.g. 30d (not 0);
                        not while the clock is more than T ahead of the last
                        drop (a clock stepped forward): said on stderr instead
  --trust-clock         the clock is right: drop by it at start all the same
  --cors-origin O       let this browser origin read answers (repeatable, exact:
                        https://app.example.com, no path); a browser's request
                        from any other origin is refused (403)
  --max-body SIZE       largest request body (default 16MiB, at most 256MiB;
                        413 above it)
  --max-connections N   connections open at once; more are closed at once
                        (default: half the open-file limit, at most 1000)
  --max-put-streams N   distinct streams one put may name; a put naming more
                        is refused whole, 413 (default 10000)
  --backend-name NAME   the storage name in put/delete answers (default shoebox)
  --gzip                compress the sorted run files (gzip, one member per block)
  --memtable-size SIZE  events held in memory (and in the log) before they are
                        written out as sorted run files (default 16MiB)
  --store URL           the shared store of collectors and readonly servers
  --collector-id ID     this collector's name in the store (letters, digits,
                        _ . -; default: made once, kept in DIR); one data
                        directory per id: another directory's id is refused
  --flush-interval T    a collector publishes at least this often (default 10s)
  --poll-interval T     a reader looks for new runs this often (default 10s)
  --sweep-after T       a collector removes a pack or run object whose runs it
                        all replaced from the store after this long (default 1h;
                        readers may still read them)
${storeOptionHelp}
  -h, --help            show this help`

export const serveCommand: Command = {
  name: 'serve',
  reportsOnStdout: true,
  summary: 'a Kronos-compatible event server on a local event store',
  flags: STORE_FLAGS,
  help,
  async run (argv, io) {
    const { values } = parse(argv, {
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      mode: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      retention: { type: 'string' },
      'trust-clock': { type: 'boolean' },
      'cors-origin': { type: 'string', multiple: true },
      'max-body': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-put-streams': { type: 'string' },
      'backend-name': { type: 'string' },
      'memtable-size': { type: 'string' },
      gzip: { type: 'boolean' },
      store: { type: 'string' },
      'collector-id': { type: 'string' },
      'flush-interval': { type: 'string' },
      'poll-interval': { type: 'string' },
      'sweep-after': { type: 'string' },
      ...storeOptionSpec
    }, false)
    // Decimal digits, as every count option: Number() alone took '1e3' (port 1000), ' 5' and '0x10'.
    const port = wholeNumber('--port', values.port) ?? 8150
    if (port > 65535) throw usage(`--port: must be 0..65535, got ${givenValue(String(values.port))}`)
    // --retention 0 reads like "keep everything" but would drop every finished
    // day of events: refused, leaving --retention out keeps everything.
    if (values.retention !== undefined && asUsage(() => parseDuration(values.retention as string, '--retention')) === 0) {
      throw usage('--retention 0 would drop every event of every finished day; leave --retention out to keep everything')
    }
    const mode = oneOf('--mode', values.mode, ['all', 'readonly', 'collector'] as const, 'all')
    const store = values.store === undefined ? undefined : storeUrlArg(values.store as string, { endpoint: values.endpoint as string | undefined })
    if (values.endpoint !== undefined && store === undefined) throw usage('--endpoint goes with --store URL (an S3-compatible endpoint for it)')
    const storeOptions = storeOptionsFrom(values)
    // A reader of a shared store keeps nothing locally.
    if (typeof values.data === 'string') checkLocalDir(values.data, '--data', `a store the server's runs go to is --store ${values.data}`)
    // A name that is not UTF-8 names another directory, which the server would make (misdecodedDirectory()).
    const misdecoded = typeof values.data === 'string' ? await misdecodedDirectory(values.data, "'shoebox serve --data .'") : undefined
    if (misdecoded !== undefined) throw misdecoded
    const data = typeof values.data === 'string' ? path.resolve(values.data) : store !== undefined && mode === 'readonly' ? undefined : path.resolve('shoebox-events')
    const { serveEvents } = await import('../events/server/serve-events.js')
    // A refused option value (a bad size or duration) is a usage error, as elsewhere.
    // A background failure names what the store lists (any writer's keys) and says what it answered: one line, its control characters escaped.
    const tell = quietRepeats((line) => { io.stderr.write(`shoebox serve: ${oneLine(line)}\n`) }, REPEAT_EVERY_MS)
    const maxConnections = positiveInteger('--max-connections', values['max-connections'])
    const capWarning = maxConnections === undefined ? undefined : connectionCapWarning(maxConnections, openFileLimit())
    if (capWarning !== undefined) io.stderr.write(`shoebox serve: ${capWarning}\n`)
    const server = await serveEvents({
      data,
      port,
      host: values.host as string | undefined,
      mode,
      namespaces: values.namespace as string[] | undefined,
      retention: values.retention as string | undefined,
      trustClock: values['trust-clock'] === true ? true : undefined,
      corsOrigins: values['cors-origin'] as string[] | undefined,
      maxBody: values['max-body'] as string | undefined,
      maxConnections,
      maxPutStreams: positiveInteger('--max-put-streams', values['max-put-streams']),
      backendName: values['backend-name'] as string | undefined,
      memtableSize: values['memtable-size'] as string | undefined,
      gzip: values.gzip === true,
      store,
      storeOptions,
      collectorId: values['collector-id'] as string | undefined,
      flushInterval: values['flush-interval'] as string | undefined,
      pollInterval: values['poll-interval'] as string | undefined,
      sweepAfter: values['sweep-after'] as string | undefined,
      // The server carries on (and tries again); the operator is told, the same line at most every 30 s.
      onBackgroundError: (err) => { tell(err.message) },
      onConnectionCap: (max) => { io.stderr.write(`shoebox serve: ${max} connections open, the most --max-connections allows: new ones are closed until some end\n`) }
    }).catch((err: unknown) => asUsage(() => { throw listenError(notStarted(err, data), values.host as string | undefined ?? '127.0.0.1', port) }, { flags: SERVE_FLAGS }))
    io.stdout.write(`shoebox serve: listening on ${server.url} (${data === undefined ? `store ${store ?? ''}` : `data ${data}`}, mode ${mode})\n`)
    // Served as it was at start, not as the store goes on: said where the server says what it serves.
    if (server.readOnlyMount) io.stdout.write(`shoebox serve: ${data ?? ''} is on a read-only mount: serving its events as they were at start (no lock taken, nothing written; events written there since are seen after a restart)\n`)
    await new Promise<void>((resolve) => {
      onFirstSignal((name) => {
        // A collector's stop publishes its last runs, which a slow or unreachable store may hold long: it said
        // nothing meanwhile. Say so, and what a second signal (Node's default, at once) leaves.
        if (store !== undefined && mode !== 'readonly' && data !== undefined) {
          io.stderr.write(`shoebox serve: ${name}: stopping; publishing the last runs to ${oneLine(store)} (a second ${name === 'SIGINT' ? 'Ctrl-C' : name} ` +
            `stops at once: the events not published stay in ${oneLine(data)} for the next start)\n`)
        }
        resolve()
      })
    })
    try {
      await server.close()
    } catch (err) {
      // Stopped all the same; nothing acknowledged is lost, but what the last flush left undone is said, and the exit is 1.
      io.stderr.write(`shoebox serve: stopped; ${oneLine((err as Error).message)}\n`)
      return 1
    }
    io.stderr.write('shoebox serve: stopped\n')
    return 0
  }
}

/** The flag each of serveEvents()'s options comes from, for the line that refuses it. */
const SERVE_FLAGS = {
  data: '--data',
  store: '--store',
  mode: '--mode',
  host: '--host',
  namespaces: '--namespace',
  retention: '--retention',
  trustClock: '--trust-clock',
  corsOrigins: '--cors-origin',
  maxBody: '--max-body',
  maxConnections: '--max-connections',
  maxPutStreams: '--max-put-streams',
  backendName: '--backend-name',
  memtableSize: '--memtable-size',
  collectorId: '--collector-id',
  flushInterval: '--flush-interval',
  pollInterval: '--poll-interval',
  sweepAfter: '--sweep-after',
  ...STORE_FLAGS
}

/**
 * node's own words for a failed listen ('listen EADDRINUSE: address already
 * in use 127.0.0.1:8150') say neither which flag to change nor how: one line
 * that does. Any other failure is passed on as it is.
 */
/**
 * The data directory could not be opened (a read-only mount: EROFS on its lock): the line said only
 * "cannot lock DIR/serve.pid", not that the server never started nor what became of the events there.
 */
function notStarted (err: unknown, data: string | undefined): unknown {
  if (data === undefined || !(err instanceof ShoeboxError) || err.code !== 'SHOEBOX_IO') return err
  return reworded(err, `${err.message}; the server did not start, the events in ${data} are kept as they were`)
}

function listenError (err: unknown, host: string, port: number): unknown {
  const e = err as NodeJS.ErrnoException
  if (e.syscall !== 'listen' && e.syscall !== 'getaddrinfo') return err
  const why = e.code === 'EADDRINUSE'
    ? 'the port is in use (--port 0 picks a free one)'
    : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND'
      ? `--host ${host} is not an address of this machine (${e.code})`
      : e.code === 'EACCES'
        ? 'permission denied (a port below 1024 needs privileges; --port 0 picks a free one)'
        : describeIoError(e)
  return new ShoeboxError('SHOEBOX_IO', `cannot listen on ${host}:${port}: ${why}`, { cause: err })
}
