/** shoebox write: NDJSON on stdin into rolling archive files in a directory. */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { pipeline } from 'node:stream/promises'
import { EncodeNdjson, invalidWhat } from '../ndjson/encode-ndjson.js'
import { SlabPool } from '../format/slab-pool.js'
import { DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'
import type { RollPolicy } from '../roll/policies.js'
import { ShoeboxError } from '../errors.js'
import { rollingSink, type FsyncPolicy, type KeptReport, type RollingSink, type SealedEvent, type UploadParts } from '../roll/rolling-sink.js'
import type { RecoveredFile, SkippedTemp } from '../roll/recover.js'
import type { Command } from './command.js'
import { describeIoError, feedFile, fileStream, READ_CHUNK, readHead, STDIN_DIRECTORY, usage, checkDirArg, checkLocalDir } from './io.js'
import { sniffCodec } from '../compress/codecs.js'
import type { Gate } from './stdin-gate.js'
import { maxFrameSizeFrom, maxRecordSizeFrom, recordLinesHint, recordSizeOptionSpec, refuseWithRecords, writeOptionHelp } from './read-options.js'
import { asUsage, keyValues, metaFields, oneOf, parse, positiveInteger } from './options.js'
import { compressFrom, compressOptionHelp, compressOptionSpec, expandCompress } from './compress-options.js'
import { isTerminal, STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import type { TransferReporter } from './transfer-reporter.js'
import type { UploadErrorEvent } from '../roll/uploader.js'
import { recoveredLine } from './recovered-line.js'
import { plural } from '../plural.js'
import { parseDuration } from '../units.js'
import { oneLine } from './one-line.js'
import { lineCutBySignal, onFirstSignal, stdinStoppedExitCode } from './interrupt.js'
import { misdecodedDirectory } from '../fs/undecoded-path.js'

const help = `Usage: shoebox write DIR [options] < input.ndjson

Writes each NDJSON line on stdin as one record into archive files in DIR,
starting a new file whenever a roll policy fires. A file is written under a
hidden temporary name and sealed (fsynced, renamed) when it rolls or at the
end. Leftover temporary files of crashed writers are recovered first.
gzip or zstd input is decompressed (known by its magic bytes); damage in it
seals every whole line before it, then fails naming the compressed offset.
SIGINT or SIGTERM stop reading stdin at its last whole line and seal every
line read before exiting 0 (a regular file on stdin: 128 + the signal, 130
or 143, as the input was cut short); a second signal quits at once. With
--to, a signal says at once that the uploads are awaited (one after stdin
has ended stops nothing: the run goes on); a second one quits, the files
not uploaded still in DIR.

With --to, each sealed file is also uploaded (s3://bucket/prefix, or a
directory) under its own name, verified, and marked done (or deleted with
--delete-local). Files not yet uploaded stay queued in DIR: the next run
uploads them first. The command fails if an upload could not complete.

Options:
  --template T          file names: strftime fields (UTC) and {seq} {host} {pid}
                        (default %Y%m%dT%H%M%S%fZ-{host}-{pid}-{seq}.shoebox)
  --roll-size SIZE      roll at this file size, e.g. 100MiB
  --roll-age TIME       roll files this old, e.g. 10m (idle files too)
  --roll-align          align age rolls to the clock (UTC): 1h rolls on the hour
                        (needs --roll-age)
  --roll-records N      roll after N records
  --roll-policy MODULE  a custom policy: a module whose default export is an
                        object with check(file, now) (or a function making one)
${compressOptionHelp}
  --fsync never|onClose|interval|always   (default onClose)
  --flush-interval TIME  flush buffered records at least this often (default 1s;
                        0 turns the timer off: blocks are cut when full or at the end)
  --format v1|v2        record format (default v2)
  --meta key=value      metadata for every record (repeatable)
  --meta-from-field [key=]path   metadata from each line's JSON (repeatable)
  --records             each line is a record as 'shoebox read' prints it, written
                        back as that record: its metadata and its payload's bytes
                        (read --exact prints every record so that they come back
                        byte for byte); a line that is no such record ends the input
  --to URL              upload sealed files to this store
  --delete-local        delete each file once its upload is verified
  --upload-concurrency N  files uploaded at once (default 2)
${writeOptionHelp}
${storeOptionHelp}
  -h, --help            show this help`

/** The flag each of rollingSink()'s options comes from, for the line that refuses it. */
const WRITE_FLAGS = {
  dir: 'DIR',
  template: '--template',
  'roll.size': '--roll-size',
  'roll.age': '--roll-age',
  'roll.records': '--roll-records',
  'roll.policy': '--roll-policy',
  fsync: '--fsync',
  'upload.to': '--to',
  'upload.concurrency': '--upload-concurrency',
  ...STORE_FLAGS
}

export const writeCommand: Command = {
  name: 'write',
  summary: 'NDJSON on stdin into rolling archive files',
  help,
  flags: { maxRecordSize: '--max-record-size', deleteLocal: '--delete-local', ...STORE_FLAGS },
  async run (argv, io) {
    const { values, positionals } = parse(expandCompress(argv), {
      template: { type: 'string' },
      'roll-size': { type: 'string' },
      'roll-age': { type: 'string' },
      'roll-align': { type: 'boolean' },
      'roll-records': { type: 'string' },
      'roll-policy': { type: 'string' },
      ...compressOptionSpec,
      fsync: { type: 'string' },
      'flush-interval': { type: 'string' },
      format: { type: 'string' },
      meta: { type: 'string', multiple: true },
      'meta-from-field': { type: 'string', multiple: true },
      records: { type: 'boolean' },
      to: { type: 'string' },
      'delete-local': { type: 'boolean' },
      'upload-concurrency': { type: 'string' },
      ...recordSizeOptionSpec,
      ...storeOptionSpec
    }, true)
    if (positionals.length !== 1) throw usage('needs exactly one directory')
    const dir = positionals[0]
    checkDirArg(dir, 'directory', "for one archive on stdout, 'shoebox encode'")
    checkLocalDir(dir, 'DIR', `to upload the files, write into a local DIR with --to ${dir}`)
    // A name that is not UTF-8 names another directory, which the sink would make (misdecodedDirectory()).
    const misdecoded = await misdecodedDirectory(dir, "'shoebox write .'")
    if (misdecoded !== undefined) throw misdecoded
    const records = positiveInteger('--roll-records', values['roll-records'])
    const policy = typeof values['roll-policy'] === 'string' ? await loadPolicy(values['roll-policy']) : undefined
    // Every option is checked before the sink exists: a refused command creates no directory.
    const format = oneOf('--format', values.format, ['v1', 'v2'] as const, 'v2')
    const fsync = oneOf('--fsync', values.fsync, ['never', 'onClose', 'interval', 'always'] as const, 'onClose') as FsyncPolicy
    const metadata = keyValues('--meta', values.meta as string[] | undefined)
    const metadataFromFields = metaFields(values['meta-from-field'] as string[] | undefined)
    const recordLines = values.records === true
    if (recordLines) refuseWithRecords(values)
    const maxRecordSize = maxRecordSizeFrom(values)
    const maxFrameSize = maxFrameSizeFrom(values)
    const compress = compressFrom(values)
    // Parsed here so that the error names the flag; 0 turns the timer off.
    const flushInterval = values['flush-interval'] === undefined ? undefined : asUsage(() => parseDuration(values['flush-interval'] as string, '--flush-interval'))
    const concurrency = positiveInteger('--upload-concurrency', values['upload-concurrency'])
    const storeOptions = storeOptionsFrom(values)
    if (values['roll-align'] === true && values['roll-age'] === undefined) throw usage('--roll-align needs --roll-age')
    // Each is for the uploads: without --to it would do nothing, without a word (--endpoint did).
    if (values.to === undefined && (values['delete-local'] === true || concurrency !== undefined || values.endpoint !== undefined)) {
      throw usage('--delete-local, --upload-concurrency and --endpoint go with --to URL (they are for its uploads)')
    }
    // Loaded only with --to: a plain write loads none of the uploader's, stores' and transfer line's modules
    // (start-up; test/startup-lazy.test.ts).
    const upload = typeof values.to === 'string' ? await loadUpload() : undefined
    // A regular file on stdin: its first read says whether it is compressed, before the sink exists (a read
    // error creates no directory). Plain, it goes to the lines straight (feedFile, its reads going on after this
    // one, 1 MiB each); compressed, as from a pipe.
    // A directory on stdin fails at its first read, which comes once the sink has made DIR: refused before,
    // so that a failed start leaves no empty DIR behind (the sink does not remove a directory it made).
    if (io.stdinDirectory === true) throw new ShoeboxError('SHOEBOX_IO', `${STDIN_DIRECTORY}; no file sealed in ${dir}`)
    const fileHead = io.stdinFile === undefined ? undefined : await readHead(io.stdinFile, READ_CHUNK)
    const plainFile = fileHead !== undefined && sniffCodec(fileHead).name === 'none'
    // zstd where this install has none: refused before the sink exists, too.
    if (fileHead !== undefined) await sniffCodec(fileHead).ready('stdin')
    // Any other stdin (a pipe, a compressed file) is read through the gate, which loads its modules (and the
    // decompressing input's) only then: a plain file's write starts without them (test/startup-lazy.test.ts).
    const gate: Gate | null = plainFile ? null : new (await import('./stdin-gate.js')).Gate({ longest: maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE })
    // A value the sink refuses (--roll-size abc, --gzip=0, --template x-%Q) is a usage error.
    const sink: RollingSink = asUsage(() => rollingSink({
        dir,
        template: values.template as string | undefined,
        roll: {
          size: values['roll-size'] as string | undefined,
          age: values['roll-age'] as string | undefined,
          align: values['roll-align'] === true,
          records,
          policy
        },
        compress,
        fsync,
        flushInterval,
        maxRecordSize,
        // The command reports no file's hash: spare the pass over every byte written.
        sha256: false,
        upload: typeof values.to === 'string'
          ? { to: values.to, deleteLocal: values['delete-local'] === true, concurrency, storeOptions }
          : undefined
    }, upload?.parts), { flags: WRITE_FLAGS })
    // The sink is the lines' one consumer and gives back each block's bytes once compressed or written:
    // the encoder's slabs are used again (format/slab-pool.ts: peak RSS, page faults).
    // A line --meta-from-field cannot parse, or one too long, ends the input there ('end'), so that the sink
    // seals the records before it; failing the pipeline destroyed the sink, and with it the records not yet in
    // a sealed file.
    const lines = new EncodeNdjson({ format, metadata, metadataFromFields, records: recordLines, maxRecordSize, onInvalid: 'end', source: 'stdin' }, { slabs: new SlabPool() })
    lines.once('recordLines', () => { io.stderr.write(`shoebox write: ${recordLinesHint}\n`) })
    // Counted, not kept: a write from a pipe that never ends (tail -f) seals files for months.
    const sealed = { files: 0, bytes: 0 }
    sink.on('sealed', (e: SealedEvent) => {
      sealed.files++
      sealed.bytes += e.bytes
    })
    // One line per file once its tries are used up, not one per try (a missing bucket printed three for each file);
    // and a failure of the whole store (no bucket, refused credentials, no endpoint), which every file meets alike,
    // one line for the store. (Its kind read by shape: store-error.ts stays unloaded until --to needs it.)
    const storeFailures = new Set<string>()
    sink.on('uploadError', (e: UploadErrorEvent) => {
      if (e.willRetry) return
      const kind = (e.error as { kind?: unknown }).kind
      const wholeStore = kind === 'no-bucket' || kind === 'denied' || kind === 'unreachable'
      if (wholeStore && storeFailures.has(kind)) return
      if (wholeStore) storeFailures.add(kind)
      const queued = wholeStore ? 'it and every file after it stay queued in the directory' : 'it stays queued in the directory'
      io.stderr.write(`shoebox write: ${oneLine(`upload of ${e.path} failed; ${queued}: ${e.error.message}`)}\n`)
    })
    sink.on('recover', (r: RecoveredFile) => {
      io.stderr.write(`shoebox write: ${recoveredLine(r)}\n`)
    })
    sink.on('recoverSkipped', (s: SkippedTemp) => {
      io.stderr.write(`shoebox write: not recovered ${oneLine(s.temp)}: ${oneLine(s.reason)}\n`)
    })
    // Monotonic: a wall clock stepped back during the run made the time it took 0 and the rate absurd.
    const started = performance.now()
    const stdin = fileHead === undefined || plainFile ? io.stdin : fileStream(io.stdinFile as number, fileHead)
    // After the line that ends the input, or a signal, stdin is read no further (a producer that never ends is
    // no hang). stdin is destroyed only once the gate's end has been read (closeAndStop): destroyed at once, its
    // pipeline destroyed the gate with lines still in it, and the write failed with "Premature close".
    let stopped = false
    const stop = (): void => {
      stopped = true
      gate?.closeAndStop(stdin)
    }
    lines.once('invalid', stop)
    let signal: NodeJS.Signals | undefined
    // A second signal (either) finds no handler: Node's default ends the process at once.
    const offSignals = onFirstSignal((name) => {
      // With --to the run then waits for the uploads, which a slow or unreachable store may hold long: say so, and
      // what a second signal (Node's default, at once) leaves. (Said only once stdin had ended: a signal that ended
      // it, the usual stop of `tail -f | shoebox write --to`, left a silent process a store down held for minutes.)
      const waiting = sink.uploader === undefined
        ? ''
        : `waiting for the uploads to ${oneLine(String(values.to))} to finish (a second ${name === 'SIGINT' ? 'Ctrl-C' : name} stops at once: ` +
          `the files not uploaded stay queued in ${oneLine(dir)} for the next run)`
      // After the end of stdin (all of it read) a signal cuts nothing: the run ends as without it.
      if (gate?.writableEnded === true || lines.writableEnded) {
        if (waiting !== '') io.stderr.write(`shoebox write: ${name}: stdin has ended; ${waiting}\n`)
        return
      }
      if (waiting !== '') io.stderr.write(`shoebox write: ${name}: stopped reading stdin; sealing the lines read, then ${waiting}\n`)
      signal = name
      // A file on stdin goes to the lines straight (feedFile), in reads that end anywhere in a line: the line
      // its last read cut is no line either. (From a pipe the gate passes whole lines only.)
      lines.cut = true
      stop()
    })
    const progress = isTerminal(io) && sink.uploader === undefined ? setInterval(() => { io.stderr.write(`\r${summary(sink.flushedRecords, sealed, started)}`) }, 1000) : null
    const transfers = upload === undefined ? null : new upload.TransferReporter(io, 'shoebox write', () => sink.stats())
    try {
      if (gate === null) {
        // A plain file on stdin is read into reused buffers (see feedFile), from once the sink has started
        // (RollingSink.started: encoding ahead of it delays the first compression); a signal ends the lines cleanly.
        const stdinFile = io.stdinFile as number
        const head = fileHead as Buffer
        void sink.started().then(async () => {
          if (head.length > 0) lines.write(head)
          await feedFile(stdinFile, lines, () => stopped)
        })
        await pipeline(lines, sink)
      } else {
        // stdin feeds the gate once the sink has started (as above), decompressed if it is gzip or zstd; on a
        // signal or damage the gate ends cleanly (at the last whole line), so the sink seals its file.
        sink.started().then(() => { gate.feed(stdin, { maxFrameSize }) }).catch(() => {})
        await pipeline(gate, lines, sink)
      }
    } catch (err) {
      // The pipeline rejects as soon as a stage fails, while the sink may still be sealing a file it had
      // rolled: counted before it closes, that file was "no file sealed" and its records "never reached a file".
      if (!sink.closed) await new Promise((resolve) => { sink.once('close', resolve) })
      const kept = sink.kept()
      // Once the sink has started, the one error line also says what survived.
      // (A bare errno error keeps its words; anything else unexpected stays an internal error.)
      const errno = typeof (err as NodeJS.ErrnoException | undefined)?.code === 'string'
      if (!kept.started || !(err instanceof ShoeboxError || (err instanceof Error && errno))) throw err
      const code = err instanceof ShoeboxError ? err.code : 'SHOEBOX_IO'
      const message = err instanceof ShoeboxError ? err.message : describeIoError(err)
      throw new ShoeboxError(code, `${message}; ${keptLine(kept, lines.records)}`, { cause: err })
    } finally {
      offSignals()
      if (progress !== null) clearInterval(progress)
      // A write refused before its sink started (a directory holding files that are no archives, a store it cannot
      // open) transferred nothing: its refusal is the one line, with no 'nothing transferred' line before it.
      transfers?.stop(sink.kept().started)
    }
    const bad = lines.invalid[0]
    if (bad !== undefined) {
      if (progress !== null) io.stderr.write('\r')
      throw new ShoeboxError(bad.code, `stdin: line ${bad.line}: ${invalidWhat(bad)}; ${keptLine(sink.kept(), lines.records)}`)
    }
    const damage = gate?.failure ?? null
    const heldByGate = gate?.heldBytes ?? 0
    if (damage !== null) {
      // Compressed stdin torn or damaged: every whole line before it is sealed; the line it cut is not stored.
      if (progress !== null) io.stderr.write('\r')
      const cut = heldByGate > 0 ? `, the last line it cut (${plural(heldByGate, 'byte')}) not stored` : ''
      throw new ShoeboxError(damage.code, `${damage.message}; ${keptLine(sink.kept(), lines.records)}${cut}`, { cause: damage })
    }
    const held = heldByGate + lines.bufferedLineBytes
    const stoppedBy = signal === undefined ? '' : `; stopped by ${signal}: ${plural(sink.kept().sealedRecords, 'record')} sealed${lineCutBySignal(signal, held, 'stored')}, the rest of stdin was not read`
    io.stderr.write(`${progress !== null ? '\r' : ''}shoebox write: ${summary(lines.records, sealed, started)} into ${oneLine(path.resolve(dir))}${stoppedBy}\n`)
    // The end of a producer that may never end (a pipe) or a file's cut short: interrupt.ts.
    return signal === undefined ? 0 : stdinStoppedExitCode(io, signal)
  }
}

/** What a failed write left: sealed files, records recovery will seal, records that never reached a file. */
function keptLine (kept: KeptReport, read: number): string {
  const parts = [kept.sealedFiles === 0
    ? `no file sealed in ${kept.dir}`
    : `${plural(kept.sealedFiles, 'file')} sealed (${plural(kept.sealedRecords, 'record')}) in ${kept.dir}`]
  const unsealed = kept.unsealed?.records ?? 0
  const inPart = kept.unsealed?.inPart ?? 0
  if (kept.unsealed !== null && unsealed + inPart > 0) {
    // A write that failed part way (a full disk) left some of its records whole in the file: recovery keeps those.
    const file = kept.unsealed.path
    const what = inPart === 0
      ? `${plural(unsealed, 'record')} in the unsealed file ${file}`
      : unsealed === 0
        ? `up to ${plural(inPart, 'record')} written in part to the unsealed file ${file}`
        : `${plural(unsealed, 'record')} in the unsealed file ${file}, and up to ${inPart} more written to it in part,`
    parts.push(`${what} will be recovered on the next start (or by shoebox recover)`)
  }
  const lost = read - kept.sealedRecords - unsealed - inPart
  if (lost > 0) parts.push(`${plural(lost, 'record')} read from stdin never reached a file`)
  return parts.join(', ')
}

function summary (records: number, sealed: { files: number, bytes: number }, started: number): string {
  const seconds = Math.max(0.001, (performance.now() - started) / 1000)
  return `${plural(records, 'record')}, ${plural(sealed.files, 'file')} sealed, ${plural(sealed.bytes, 'byte')}, ${seconds.toFixed(1)} s, ${Math.round(records / seconds)} records/s`
}

/** What a write with --to needs: the uploader and the store opener for the sink (rolling-sink.ts's UploadParts), and the transfer line. */
async function loadUpload (): Promise<{ parts: UploadParts, TransferReporter: typeof TransferReporter }> {
  const [{ SealedUploader }, { openStore }, { TransferReporter }] =
    await Promise.all([import('../roll/uploader.js'), import('../store/open-store.js'), import('./transfer-reporter.js')])
  return { parts: { SealedUploader, openStore }, TransferReporter }
}

async function loadPolicy (module: string): Promise<RollPolicy> {
  const url = module.startsWith('.') || path.isAbsolute(module) ? pathToFileURL(path.resolve(module)).href : module
  let loaded: { default?: unknown }
  try {
    loaded = await import(url) as { default?: unknown }
  } catch (err) {
    throw usage(`--roll-policy: cannot load ${module}: ${(err as Error).message}`)
  }
  const exported = loaded.default
  const policy = typeof exported === 'function' ? (exported as () => unknown)() : exported
  if (policy === null || typeof policy !== 'object' || typeof (policy as RollPolicy).check !== 'function') {
    throw usage(`--roll-policy: ${module} must export a policy object with check(file, now), or a function returning one`)
  }
  return policy as RollPolicy
}
