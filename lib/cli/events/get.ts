/** shoebox events get URL STREAM: a time range of a stream as NDJSON, each event as the server sent it. */
import { pipeline } from 'node:stream/promises'
import { Transform, type TransformCallback } from 'node:stream'
import { ShoeboxError } from '../../errors.js'
import type { Command } from '../command.js'
import { oneOf, parse, wholeNumber } from '../options.js'
import type { KronosClient } from '../../events/client.js'
import { kronosTimeNow } from '../../events/kronos-time.js'
import { endOnFailure } from '../../stream/deliver-then-fail.js'
import { asUsageArg, checkRange, client, clientHelp, clientSpec, rangeSpec, streamHelp, streamSpec, time, timeHelp, urlAndStream } from './args.js'
import { plural } from '../../plural.js'

const help = `Usage: shoebox events get URL STREAM [options]

Writes the events of STREAM with --from <= @time <= --to to stdout, one JSON
object per line, as the server (shoebox serve, or Kronos) sent them. A broken
connection is resumed after the last event written; --limit holds across
resumes. A failure is one line after every event received, saying how many
were written and the last @id (--start-id ID goes on after it). A stream
the server does not list is an error (exit 1); an empty range of one it
does is not. ${timeHelp}

Options:
${streamHelp}
  --from TIME       the earliest @time (inclusive; default 0, the epoch)
  --to TIME         the latest @time (inclusive; default now)
  --start-id ID     start strictly after this event id (replaces --from)
  --limit N         at most N events
  --order ORDER     ascending (default) or descending
${clientHelp}
  -h, --help        show this help`

/** Text lines to NDJSON bytes, a batch of lines per write; counts them, and keeps the last. */
class Lines extends Transform {
  written = 0
  last: string | undefined

  constructor () {
    super({ writableObjectMode: true, readableObjectMode: false })
  }

  override _transform (line: string, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.written++
    this.last = line
    callback(null, `${line}\n`)
  }

  /** What stdout holds, for the error line: how many events, and where to go on from. */
  describe (): string {
    if (this.written === 0) return 'no event written'
    const id = this.last === undefined ? undefined : /"@id"\s*:\s*"([^"]+)"/.exec(this.last)?.[1]
    const events = `${plural(this.written, 'event')} written`
    return id === undefined ? events : `${events}, the last @id ${id} (--start-id ${id} goes on after it)`
  }
}

/**
 * Nothing came back: an empty range of a stream is an answer, but a stream
 * the server does not know is most often a misspelt name, which Kronos
 * answers with nothing too. One more request (only when nothing came) tells
 * the two apart; if it fails, the empty answer stands. delete (nothing
 * deleted) and schema (a null schema) ask the same.
 */
export async function checkStreamExists (kronos: KronosClient, stream: string, nothing = 'nothing written'): Promise<void> {
  const names = await kronos.streams().catch(() => null)
  if (names === null || names.includes(stream)) return
  const where = kronos.namespace === undefined ? 'the default namespace' : `namespace ${kronos.namespace}`
  throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${kronos.url}: no stream ${stream} in ${where} (shoebox events streams lists them); ${nothing}`)
}

export const getCommand: Command = {
  name: 'get',
  summary: 'a time range of a stream, as NDJSON',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { ...rangeSpec, limit: { type: 'string' }, order: { type: 'string' }, ...clientSpec, ...streamSpec }, true)
    const { url, stream } = urlAndStream(positionals, values)
    const from = time('--from', values.from, () => 0n)
    const to = time('--to', values.to, kronosTimeNow)
    checkRange(from, to, values)
    const limit = wholeNumber('--limit', values.limit)
    const order = oneOf('--order', values.order, ['ascending', 'descending'] as const, 'ascending')
    const kronos = client(url, values)
    try {
      const events = asUsageArg(() => kronos.get(stream, from, to, {
        order, limit, startId: values['start-id'] as string | undefined, format: 'text'
      }))
      // A failure (retries used up) ends the output cleanly, every event
      // received written, and is thrown after: one error line.
      const received = endOnFailure(events)
      const lines = new Lines()
      await pipeline(received, lines, io.stdout)
      if (received.failure !== null) {
        const failure = received.failure as Error
        throw new ShoeboxError(failure instanceof ShoeboxError ? failure.code : 'SHOEBOX_IO', `${failure.message}; ${lines.describe()}`, { cause: failure })
      }
      if (lines.written === 0 && limit !== 0) await checkStreamExists(kronos, stream)
    } finally {
      kronos.close()
    }
    return 0
  }
}
