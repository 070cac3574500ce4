/** shoebox events delete URL STREAM --from T --to T: delete a time range; the server's answer on stdout. */
import type { Command } from '../command.js'
import { usage } from '../io.js'
import { parse } from '../options.js'
import { stringifyEvent } from '../../events/event-text.js'
import { checkStreamExists } from './get.js'
import { asUsageArg, checkRange, client, clientHelp, clientSpec, rangeSpec, streamHelp, streamSpec, time, timeHelp, urlAndStream } from './args.js'

const help = `Usage: shoebox events delete URL STREAM (--from TIME | --start-id ID) --to TIME [options]

Deletes the events of STREAM with --from <= @time <= --to (or after --start-id,
exclusive) and writes the server's answer (counts per stream and backend) as
one JSON line. Both ends are required: nothing is deleted by default. A
stream the server does not list is an error (exit 1).
${timeHelp}

Options:
${streamHelp}
  --from TIME       the earliest @time to delete (inclusive)
  --to TIME         the latest @time to delete (inclusive)
  --start-id ID     delete strictly after this event id (replaces --from)
${clientHelp}
  -h, --help        show this help`

/** No backend of the stream's answer ({ backend: { num_deleted } }) deleted anything. */
function deletedNone (counts: unknown): boolean {
  if (typeof counts !== 'object' || counts === null) return true
  return Object.values(counts).every((c: unknown) => typeof c !== 'object' || c === null || (c as { num_deleted?: unknown }).num_deleted === 0)
}

export const deleteCommand: Command = {
  name: 'delete',
  summary: 'delete a time range of a stream',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { ...rangeSpec, ...clientSpec, ...streamSpec }, true)
    const { url, stream } = urlAndStream(positionals, values)
    const startId = values['start-id'] as string | undefined
    if (values.to === undefined) throw usage('needs --to (nothing is deleted by default)')
    if (values.from === undefined && startId === undefined) throw usage('needs --from or --start-id (nothing is deleted by default)')
    const from = time('--from', values.from, () => 0n)
    const to = time('--to', values.to, () => 0n)
    checkRange(from, to, values)
    const kronos = client(url, values)
    try {
      const answer = await asUsageArg(async () => await kronos.delete(stream, from, to, { startId }))
      if (deletedNone(answer[stream])) await checkStreamExists(kronos, stream, 'nothing deleted')
      io.stdout.write(stringifyEvent(answer) + '\n')
    } finally {
      kronos.close()
    }
    return 0
  }
}
