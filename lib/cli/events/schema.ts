/** shoebox events schema URL STREAM: the JSON schema the server infers from a stream's recent events. */
import type { Command } from '../command.js'
import { parse } from '../options.js'
import { stringifyEvent } from '../../events/event-text.js'
import { checkStreamExists } from './get.js'
import { client, clientHelp, clientSpec, streamHelp, streamSpec, urlAndStream } from './args.js'

const help = `Usage: shoebox events schema URL STREAM [options]

Writes the JSON schema the server infers from the 100 most recent events of
STREAM (Kronos's infer_schema) as one JSON line. A stream the server does
not list is an error (exit 1).

Options:
${streamHelp}
${clientHelp}
  -h, --help        show this help`

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'the JSON schema inferred from a stream',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { ...clientSpec, ...streamSpec }, true)
    const { url, stream } = urlAndStream(positionals, values)
    const kronos = client(url, values)
    try {
      const answer = await kronos.inferSchema(stream)
      // A null schema: no event in [0, now], or no such stream (most often a misspelt name).
      if ((answer.schema as { type?: unknown } | undefined)?.type === 'null') await checkStreamExists(kronos, stream)
      io.stdout.write(stringifyEvent(answer.schema ?? null) + '\n')
    } finally {
      kronos.close()
    }
    return 0
  }
}
