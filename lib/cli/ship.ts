/** shoebox ship: NDJSON events on stdin, stamped and shipped to a Kronos-protocol server. */
import fs from 'node:fs'
import type { Readable } from 'node:stream'
import { ShoeboxError } from '../errors.js'
import type { StampedEventRecord } from '../events/stamp.js'
import type { Command } from './command.js'
import { usage } from './io.js'
import { oneLine } from './one-line.js'
import { maxFrameSizeFrom } from './read-options.js'
import { decompressedInput, type DecompressedInput } from '../compress/decompressed-input.js'
import { asUsage, duration, inFlags, oneOf, parse, positiveInteger } from './options.js'
import { parseSize } from '../units.js'
import type { FeedOutcome } from './ship-feed.js'
import { isTerminal } from './store-options.js'
import { plural } from '../plural.js'
import { siBytes } from '../transfer/stats.js'
import { lineCutBySignal, onFirstSignal, stdinStoppedExitCode } from './interrupt.js'

const help = `Usage: shoebox ship URL [options] < events.ndjson

Ships each NDJSON line on stdin as one event to the Kronos-protocol server at
URL (shoebox serve, or Kronos itself): POST URL/1.0/events/put, batched per
stream, retried while the server is unreachable or busy (Retry-After
honoured). Each event gets @time (now, unless it has one or --time-field
says where it is) and @id; stream names are checked before anything is sent.
Blank lines are skipped; empty stdin ships nothing (exit 0, as write).
gzip or zstd input is decompressed (known by its magic bytes); damage in it
ships every whole line before it, then fails naming the compressed offset.
Exits once every event is acknowledged, with a summary line on stderr
(live progress too, on a terminal). Exit 1 if any event was refused (a bad
line, or rejected by the server), 2 for a usage mistake. SIGINT or SIGTERM
end the input there: the lines read are shipped, and the summary says where
it stopped (a regular file on stdin: exit 128 + the signal, 130 or 143, as
the input was cut short); a second signal quits at once. While no batch is acknowledged
for 5 s (a wrong URL, a server down) it says so on stderr, every 30 s.

If it gives up (--attempts), it stops reading stdin and says how many
lines it read, how many the server acknowledged and what became of the
rest: with --spill, every line read and not acknowledged is in the spill
(the next run with the same --spill sends it); without, not kept: named
unconfirmed, as the server may or may not have stored them before its
answer failed. A server that refuses where the puts go (a --namespace it
lacks, a wrong URL path, credentials) stops it at once: its batches in
flight answered, one line gives the server's words and the lines not stored
(with --spill, the lines not acknowledged are kept there, for that
namespace). An earlier run's spilled lines for a namespace the server
refuses are set aside in DIR/refused (said once, counted in the summary,
exit 1); ship them elsewhere with: shoebox read 'DIR/refused/*.shoebox'
--payload-only | shoebox ship URL --stream S --namespace NS

Options:
  --stream NAME          the stream of every event (or of those without --stream-field)
  --stream-field F       take each event's stream from its field F
  --time-field F         take @time from field F (kronos ticks, or ISO text)
  --time-unit kronos|ms|s  what a number (or its text) in --time-field counts (default
                           kronos; only with --time-field: @time is always kronos time)
  --namespace NS         the namespace (default: the server's)
  --on-overflow block|drop|spill
                         a full queue holds stdin (the default without --spill),
                         drops events (counted), or spills them to --spill (the
                         default with it)
  --spill DIR            spill directory: events are replayed in order from
                         it, also by the next run after a crash
  --queue N              events queued before --on-overflow applies (default 10000;
                         with a file on stdin and block, a batch for each of the
                         8 in flight: 4000)
  --attempts N           give up on a batch after N tries (default: keep trying)
  --timeout T            a put with no byte of answer for T is tried again
                         (default 30s; 10s, 500ms; 0 waits for ever)
  --max-line-length SIZE
                         longest line taken (default 64MiB, far above any event
                         a server takes; at most 256MiB): a longer line is a bad
                         line, named and counted, its bytes not held
  --max-frame-size SIZE  largest zstd frame of zstd input held whole (default
                         256MiB): where input cannot stream through zstd's
                         window (with @mongodb-js/zstd, or on Node 22 without
                         the native addon's streaming decoder) each frame is
                         decompressed whole, and one that could hold more is
                         refused unread, as damage; streamed input (the
                         addon's decoder, Node 24's zlib) needs no bound
  -h, --help             show this help`

/** A run whose batches have failed this long (and no ack since) says so on stderr; again at most this often. */
const FAILING_NOTE_AFTER_MS = 5000
const FAILING_NOTE_EVERY_MS = 30_000
/** After a first signal, a run not done this soon says what it is waiting for. */
const STOPPING_NOTE_AFTER_MS = 2000

/** The flag each of ship()'s and stampNdjson()'s options comes from, for the line that refuses it. */
const SHIP_FLAGS = {
  namespace: '--namespace',
  onOverflow: '--on-overflow',
  spill: '--spill',
  queueEvents: '--queue',
  'retry.attempts': '--attempts',
  timeout: '--timeout',
  stream: '--stream',
  streamField: '--stream-field',
  timeField: '--time-field',
  timeUnit: '--time-unit',
  maxLineLength: '--max-line-length'
}

/** Only this flag: the other options' names are words in other invalid lines' messages ('no stream given'). */
const LINE_FLAG = { maxLineLength: SHIP_FLAGS.maxLineLength }

export const shipCommand: Command = {
  name: 'ship',
  summary: 'NDJSON events on stdin to a Kronos-protocol server',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      stream: { type: 'string' },
      'stream-field': { type: 'string' },
      'time-field': { type: 'string' },
      'time-unit': { type: 'string' },
      namespace: { type: 'string' },
      'on-overflow': { type: 'string' },
      spill: { type: 'string' },
      queue: { type: 'string' },
      attempts: { type: 'string' },
      timeout: { type: 'string' },
      'max-frame-size': { type: 'string' },
      'max-line-length': { type: 'string' }
    }, true)
    if (positionals.length !== 1) throw usage('needs exactly one URL')
    const stream = values.stream as string | undefined
    const streamField = values['stream-field'] as string | undefined
    if (stream === undefined && streamField === undefined) throw usage('give --stream NAME or --stream-field F')
    const onOverflow = oneOf('--on-overflow', values['on-overflow'], ['block', 'drop', 'spill'] as const, values.spill === undefined ? 'block' : 'spill')
    if (values.spill === '') throw usage('--spill needs a directory')
    if (onOverflow === 'spill' && values.spill === undefined) throw usage('--on-overflow spill needs --spill DIR')
    if (onOverflow !== 'spill' && values.spill !== undefined) throw usage(`--spill goes with --on-overflow spill (its default), not ${onOverflow}`)
    const timeUnit = oneOf('--time-unit', values['time-unit'], ['kronos', 'ms', 's'] as const, 'kronos')
    // Alone it did nothing: an @time in ms, shipped with --time-unit ms, was taken as ticks (1970).
    if (values['time-unit'] !== undefined && values['time-field'] === undefined) {
      throw usage('--time-unit goes with --time-field F (what a number in that field counts); @time is always kronos time (100 ns ticks)')
    }
    // A regular file on stdin is a queue of its own, on disk: the shipper's holds a batch of it for each batch
    // that may be in flight (fewer, and each batch waited for the one before it: shipping a file was 15-25%
    // slower than from a pipe with one), so that a server that stalls stops the reading there (and a signal
    // ships no more than that). From a pipe, the queue (--queue, default 10,000) is what keeps its producer going.
    const fileBlocks = io.stdinFile !== undefined && onOverflow === 'block'
    const fileQueue = fileBlocks && values.queue === undefined
    const queueEvents = positiveInteger('--queue', values.queue)
    const attempts = positiveInteger('--attempts', values.attempts)
    const timeout = duration('--timeout', values.timeout)
    const maxFrameSize = maxFrameSizeFrom(values)
    // Taken as given: stampNdjson() checks it, and its refusal quotes what was typed.
    const maxLineLength = values['max-line-length'] as string | undefined
    // Loaded here, not at the top: `shoebox --help` loads no event code.
    const [{ ship }, { stampNdjson, DEFAULT_MAX_LINE_LENGTH }, { feedShipper, spillUnsent }, { WholeLines }, { DEFAULT_BATCH_EVENTS, DEFAULT_BATCH_BYTES, DEFAULT_MAX_IN_FLIGHT }] = await Promise.all([
      import('../events/ship.js'), import('../events/stamp.js'), import('./ship-feed.js'), import('./whole-lines.js'), import('../events/ship-options.js')])
    const shipper = asUsage(() => ship(positionals[0], {
      namespace: values.namespace as string | undefined,
      onOverflow,
      spill: values.spill as string | undefined,
      queueEvents: fileQueue ? DEFAULT_MAX_IN_FLIGHT * DEFAULT_BATCH_EVENTS : queueEvents,
      queueBytes: fileQueue ? DEFAULT_MAX_IN_FLIGHT * DEFAULT_BATCH_BYTES : undefined,
      retry: { attempts },
      timeout,
      // The signals are this command's (below): the shipper's own SIGTERM hook would end it while stdin still feeds it.
      exitHooks: false
    }), { flags: SHIP_FLAGS })
    const stamper = asUsage(() => stampNdjson({
      stream,
      streamField,
      timeField: values['time-field'] as string | undefined,
      timeUnit,
      maxLineLength,
      onInvalid: 'event'
    }), { flags: SHIP_FLAGS })
    let invalid = 0
    // Every line below may carry text from the input or the server (its @errors): oneLine() keeps it one line,
    // its control characters escaped, so a server cannot colour the terminal or print lines of its own.
    const complain = (line: string): void => {
      if (invalid++ < 10) io.stderr.write(`${oneLine(line)}\n`)
      else if (invalid === 11) io.stderr.write('shoebox ship: more refused events; see the summary\n')
    }
    let badLines = 0
    stamper.on('invalid', (info: { line: number, error: Error }) => {
      badLines++
      // The stamper's message names the line already ("line 2: invalid JSON ..."); a line too long says the flag.
      complain(`shoebox ship: ${inFlags(info.error.message, LINE_FLAG)}`)
    })
    // The shipper hands back the line each event was read from (StampedEventRecord.line), as the stamper names its own.
    shipper.on('invalid', (info: { event: StampedEventRecord, error: Error }) => { complain(`shoebox ship: line ${info.event.line}: ${info.error.message}`) })
    // A damaged spill file: the events in the damage are lost, said once each; the rest of the spill is shipped.
    let damaged = 0
    shipper.on('damaged', (d: { path: string, offset: number, bytesSkipped: number, detail: string }) => {
      damaged++
      io.stderr.write(`shoebox ship: ${oneLine(`spill file ${d.path}: damaged at byte ${d.offset} (${d.detail})`)}, ${plural(d.bytesSkipped, 'byte')} skipped: the events in them are lost; the rest of the spill is shipped\n`)
    })
    // An earlier run's spilled events for a namespace the server refuses, set aside (ship-aside.ts): said once a namespace, counted in the summary.
    const asideSaid = new Set<string | undefined>()
    let setAsideIn: string | undefined
    shipper.on('aside', (a: { path: string, namespace: string | undefined, error: Error }) => {
      setAsideIn = a.path
      if (asideSaid.has(a.namespace)) return
      asideSaid.add(a.namespace)
      const namespace = a.namespace === undefined ? "the server's default namespace" : `namespace ${a.namespace}`
      io.stderr.write(`shoebox ship: ${oneLine(`spill ${values.spill as string}: the server refuses ${namespace} (${a.error.message}): an earlier run's events for it are set aside in ${a.path}, ` +
        'every one kept (to ship them elsewhere: shoebox read with --payload-only, piped to shoebox ship with the --namespace meant); the rest is shipped')}\n`)
    })
    let rejected = 0
    shipper.on('rejected', (info: { line: number | undefined, error: Error }) => {
      if (rejected++ < 10) io.stderr.write(`shoebox ship: ${info.line === undefined ? '' : `line ${info.line}: `}${oneLine(info.error.message)}\n`)
    })
    if (values.spill !== undefined) {
      // A spill it cannot open (a file in the way, another run using it) fails the run before stdin is read.
      const quiet = (): void => {}
      shipper.on('error', quiet)
      try {
        await shipper.opened
      } catch (err) {
        const failure = err as Error
        throw new ShoeboxError(failure instanceof ShoeboxError ? failure.code : 'SHOEBOX_IO', `${failure.message}; nothing read from stdin, nothing shipped`, { cause: failure })
      }
      shipper.off('error', quiet)
    }
    const tty = isTerminal(io)
    const live = tty
      ? setInterval(() => { io.stderr.write(`\r\x1b[Kshoebox ship: ${summary(shipper.stats())}`) }, 1000)
      : null
    live?.unref()
    // A server that stays unreachable or busy is retried for ever by default: say so, or the command
    // sat silent (off a terminal) until the user gave up on it. Not for a blip that a few quick tries cure.
    const note = (line: string): void => { io.stderr.write(`${tty ? '\r\x1b[K' : ''}shoebox ship: ${oneLine(line)}\n`) }
    let failingSince: number | undefined
    let notedAt = -Infinity
    shipper.on('ack', () => { failingSince = undefined })
    shipper.on('retry', (info: { attempt: number, delayMs: number, error: Error }) => {
      // Monotonic: on Date.now(), a wall clock stepped back made the time failing negative, and the note never came.
      const now = performance.now()
      failingSince ??= now
      if (now - failingSince < FAILING_NOTE_AFTER_MS || now - notedAt < FAILING_NOTE_EVERY_MS) return
      notedAt = now
      note(`${info.error.message}; no batch acknowledged for ${((now - failingSince) / 1000).toFixed(0)} s, still trying (${plural(info.attempt, 'try', 'tries')} of this batch so far${attempts === undefined ? '; --attempts N gives up' : ` of ${attempts}`})`)
    })
    // SIGINT or SIGTERM ends the input there: what was read is shipped, and the summary says so.
    // A second one kills at once (the listeners are gone), as when the server never answers.
    const stop = new AbortController()
    let signal: NodeJS.Signals | undefined
    let stopping: NodeJS.Timeout | undefined
    const offSignals = onFirstSignal((name) => {
      signal = name
      stop.abort()
      // Most runs finish at once; one still waiting for its server says what it waits for.
      stopping = setTimeout(() => { note(`${name}: stopped reading stdin; still shipping the lines read (a second ${name} quits at once)`) }, STOPPING_NOTE_AFTER_MS)
      stopping.unref()
    })
    let outcome
    let input: DecompressedInput
    // A partial line past the longest the stamper takes (and a CR) is passed on as it comes, to be named and
    // dropped there, not held here. (The stamper took the flag's value, so it is a size.)
    const lines = new WholeLines({ longest: parseSize(maxLineLength ?? DEFAULT_MAX_LINE_LENGTH) + 1 })
    try {
      const stdin = fileBlocks ? fileStdin(io.stdinFile as number) : io.stdin
      // stdin as text, gzip and zstd decompressed: damage ends it at its last whole line (the one it cut is no
      // event), reported once what was read is shipped. A signal while its first bytes are awaited ends it.
      const unsniffed = (): void => { stdin.destroy() }
      stop.signal.addEventListener('abort', unsniffed, { once: true })
      try {
        input = await decompressedInput(stdin, 'stdin', { maxFrameSize, onDamage: () => { lines.cut = true } })
      } catch (err) {
        // zstd where this install has none (or stdin unreadable): nothing was read, the shipper is let go.
        shipper.on('error', () => {})
        shipper.destroy(err as Error)
        throw err
      } finally {
        stop.signal.removeEventListener('abort', unsniffed)
      }
      outcome = await feedShipper(input.stream, lines, stamper, shipper, stop.signal)
    } finally {
      offSignals()
      clearTimeout(stopping)
      if (live !== null) {
        clearInterval(live)
        io.stderr.write('\r\x1b[K')
      }
    }
    if (outcome.failure !== null) {
      const failure = outcome.failure
      throw await giveUp(failure, outcome, { spill: values.spill as string | undefined, namespace: values.namespace as string | undefined, badLines, spillUnsent })
    }
    const stats = shipper.stats()
    const damage = input.failure
    if (damage !== null) {
      const cut = outcome.partialBytes > 0 ? `; the last line it cut (${plural(outcome.partialBytes, 'byte')}) not shipped` : ''
      throw new ShoeboxError(damage.code, `${damage.message}; the lines before it: ${summary(stats, invalid)}${cut}`, { cause: damage })
    }
    const stopped = outcome.stopped
      ? `; stopped by ${signal ?? 'a signal'} after ${plural(outcome.read + badLines, 'line')} of stdin${lineCutBySignal(signal ?? 'the signal', outcome.partialBytes, 'stored')}`
      : ''
    const aside = stats.events.setAside > 0 ? `; ${stats.events.setAside} spilled by an earlier run set aside in ${setAsideIn ?? 'the spill'} (their namespace refused)` : ''
    io.stderr.write(`shoebox ship: ${summary(stats, invalid)}${aside}${stopped}\n`)
    // The end of a producer that may never end (a pipe) or a file's cut short: interrupt.ts.
    const cut = outcome.stopped && signal !== undefined ? stdinStoppedExitCode(io, signal) : 0
    return cut !== 0 ? cut : invalid > 0 || stats.events.rejected > 0 || damaged > 0 || stats.events.setAside > 0 ? 1 : 0
  }
}

/**
 * Reads of a regular file on stdin that a full queue holds (--on-overflow block): each stage between
 * stdin and the shipper holds a read or two, so reads of 1 MiB (io.ts's) had ~12 MiB read ahead of a
 * stalled server; these keep the stages under a MiB. (With drop or spill, a full queue does not hold
 * stdin, and the file is read as fast as it goes.)
 */
const FILE_READ = 64 * 1024

/** Standard input, a regular file, read in FILE_READ pieces (io.stdin, which reads the same file, is then left unread: io.ts). */
function fileStdin (fd: number): Readable {
  return fs.createReadStream('', { fd, highWaterMark: FILE_READ, autoClose: false })
}

/**
 * The shipper failed: what was read and never sent joins the spill (when it gave up on an
 * unreachable server or stopped at a refusal; it put its own unsent writes there already), and the error line says
 * what became of every line read. Never an acknowledged line named as lost.
 */
async function giveUp (failure: Error, outcome: FeedOutcome, o: {
  spill: string | undefined
  namespace: string | undefined
  badLines: number
  spillUnsent: (dir: string, namespace: string | undefined, events: StampedEventRecord[]) => Promise<{ kept: number, failure: Error | null }>
}): Promise<ShoeboxError> {
  const { read, acked, rejected, held, leftover } = outcome
  // Giving up with a spill, or stopped by a refusal of where the puts go, the shipper put what it held
  // there itself, with the @ids it sent (ship.ts's _destroy): what is left is what never reached it.
  const canSpill = o.spill !== undefined && failure instanceof ShoeboxError && (failure.code === 'SHOEBOX_UNREACHABLE' || refusedThere(failure))
  const unsent = canSpill ? leftover : []
  const spilledUnsent = o.spill !== undefined && unsent.length > 0 ? await o.spillUnsent(o.spill, o.namespace, unsent) : { kept: 0, failure: null }
  // Never sent, and the spill could not take them (a full disk): not kept, and certainly not on the server.
  const unsentLost = unsent.length - spilledUnsent.kept
  const lines = read + o.badLines
  // Neither acknowledged nor refused: spilled, or unconfirmed. Not "not stored": a batch whose answer was lost
  // (a reset, a timeout) may be stored, and a user who sent those lines again would store them twice.
  const rest = read - acked - rejected
  // The server refused where they go (the shipper waited for every answer of what it had sent): certainly not stored.
  const notKept = refusedThere(failure)
    ? 'not stored (refused there, or never sent; not kept: send them again once the URL and --namespace are right)'
    : 'unconfirmed (not kept; the server may or may not have them)'
  const parts = [`${plural(lines, 'line')} read from stdin: ${acked} acknowledged`]
  if (rejected + o.badLines > 0) parts.push(`${rejected + o.badLines} refused`)
  if (o.spill === undefined) {
    parts.push(`${rest} ${notKept}`)
  } else {
    const unconfirmed = held + (canSpill ? 0 : leftover.length)
    parts.push(`${rest - unconfirmed - unsentLost} spilled to ${o.spill} (the next run with --spill ${o.spill} sends them)`)
    if (unconfirmed > 0) parts.push(`${unconfirmed} ${notKept}`)
    if (unsentLost > 0) parts.push(`${unsentLost} never sent and not kept (the spill could not take them: ${spilledUnsent.failure?.message ?? 'unknown'})`)
  }
  // Giving up cuts stdin where it is: the line it was in the middle of is not incomplete, its end was simply
  // never read (nor anything after it).
  const partial = outcome.partialBytes > 0 ? `; stdin read no further: the line it was reading (${plural(outcome.partialBytes, 'byte')} of it read) not stored` : ''
  return new ShoeboxError(failure instanceof ShoeboxError ? failure.code : 'SHOEBOX_IO', `${failure.message}; ${parts.join(', ')}${partial}`, { cause: failure })
}

/** The shipper stopped because the server refuses where its puts go (ship.ts: a namespace it lacks, a wrong URL, credentials). */
function refusedThere (failure: Error): boolean {
  return failure instanceof ShoeboxError && failure.code === 'SHOEBOX_EVENTS_FAILED'
}

interface Summary {
  uploaded: { bytes: number, objects: number }
  retries: number
  elapsedMs: number
  splits: number
  batchBytes: number
  events: { acked: number, rejected: number, invalid: number, dropped: number, spilled: number, replayed: number }
}

/** "shipped 1000 events in 2 batches (312.5 kB) in 0.4 s; 2 retries; 1 invalid" */
function summary (s: Summary, invalidLines = 0): string {
  const e = s.events
  const parts = [`shipped ${plural(e.acked, 'event')} in ${plural(s.uploaded.objects, 'batch', 'batches')} (${siBytes(s.uploaded.bytes)}) in ${(s.elapsedMs / 1000).toFixed(1)} s`]
  if (s.retries > 0) parts.push(plural(s.retries, 'retry', 'retries'))
  if (s.splits > 0) parts.push(`${plural(s.splits, 'batch', 'batches')} split (413 too large; now at most ${s.batchBytes} bytes)`)
  const refused = invalidLines
  if (refused > 0) parts.push(`${refused} invalid`)
  if (e.rejected > 0) parts.push(`${e.rejected} rejected by the server`)
  if (e.dropped > 0) parts.push(`${e.dropped} dropped (queue full)`)
  if (e.spilled > 0 || e.replayed > 0) parts.push(`${e.spilled} spilled, ${e.replayed} replayed`)
  return parts.join('; ')
}

