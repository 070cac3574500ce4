/**
 * A command made of subcommands (`shoebox meta update`, `shoebox events get`):
 * each subcommand is its own file, imported only when it runs, as main.ts
 * does for the top-level commands.
 */
import { ShoeboxError } from '../errors.js'
import type { Command } from './command.js'
import { usage } from './io.js'

/**
 * A subcommand's usage mistake: main() points the hint at the subcommand's
 * help ('shoebox events get --help'), which has the options; the group's
 * help only lists the subcommands.
 */
export class SubcommandUsageError extends ShoeboxError {
  constructor (readonly command: string, message: string, cause: unknown) {
    super('SHOEBOX_USAGE', message, { cause })
  }
}

export interface SubcommandEntry {
  name: string
  summary: string
  load: () => Promise<Command>
}

/** The group's help lists the entries' names and summaries without loading them. */

export function commandGroup (name: string, summary: string, entries: readonly SubcommandEntry[]): Command {
  const width = Math.max(...entries.map((e) => e.name.length))
  const help = [
    `Usage: shoebox ${name} <subcommand> [options]`,
    '',
    summary.charAt(0).toUpperCase() + summary.slice(1) + '.',
    '',
    'Subcommands:',
    ...entries.map((e) => `  ${e.name.padEnd(width)}  ${e.summary}`),
    '',
    `Run 'shoebox ${name} <subcommand> --help' for a subcommand's options.`
  ].join('\n')
  return {
    name,
    summary,
    help,
    group: true,
    async run (argv, io) {
      const [sub, ...rest] = argv
      if (sub === '--help' || sub === '-h') {
        io.stdout.write(help + '\n')
        return 0
      }
      if (sub === undefined) throw usage(`${name} needs a subcommand: ${entries.map((e) => e.name).join(', ')}`)
      const entry = entries.find((e) => e.name === sub)
      if (entry === undefined) throw usage(`unknown subcommand '${name} ${sub}' (one of ${entries.map((e) => e.name).join(', ')})`)
      const command = await entry.load()
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout.write(command.help + '\n')
        return 0
      }
      try {
        return await command.run(rest, io)
      } catch (err) {
        if (err instanceof ShoeboxError && err.code === 'SHOEBOX_USAGE' && !(err instanceof SubcommandUsageError)) {
          throw new SubcommandUsageError(`${name} ${sub}`, err.message, err)
        }
        throw err
      }
    }
  }
}
