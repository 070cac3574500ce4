/** shoebox events streams URL: the stream names of a namespace, one JSON string per line. */
import type { Command } from '../command.js'
import { parse } from '../options.js'
import { client, clientHelp, clientSpec, positionalArgs } from './args.js'

const help = `Usage: shoebox events streams URL [options]

Writes the names of the streams of a namespace, one JSON string per line
(NDJSON; 'jq -r .' gives bare names), in the server's order.

Options:
${clientHelp}
  -h, --help        show this help`

export const streamsCommand: Command = {
  name: 'streams',
  summary: 'the stream names of a namespace',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { ...clientSpec }, true)
    const [url] = positionalArgs(positionals, 'URL', 1)
    const kronos = client(url, values)
    try {
      const names = await kronos.streams()
      io.stdout.write(names.map((name) => JSON.stringify(name) + '\n').join(''))
    } finally {
      kronos.close()
    }
    return 0
  }
}
