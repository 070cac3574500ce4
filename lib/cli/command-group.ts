/**
 * A command made of subcommands (`shoebox meta update`, `shoebox events get`):
 * each subcommand is its own file, imported only when it runs, as main.ts
 * does for the top-level commands.
 */
import type { Command } from './command.js'
import { usage } from './io.js'
import { asksForHelp, withFlags } from './options.js'

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
    // main() names a subcommand's failures and usage hint by it ('shoebox events get: ...', 'shoebox events get --help':
    // the subcommand's help has the options; the group's only lists the subcommands), the group's own mistakes by the group.
    typedName (argv) {
      return entries.some((e) => e.name === argv[0]) ? `${name} ${argv[0]}` : name
    },
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
      if (command.reportsOnStdout === true) io.stdoutIsReport = true
      if (asksForHelp(rest)) {
        const { alignOptions } = await import('./help-columns.js')
        io.stdout.write(alignOptions(command.help) + '\n')
        return 0
      }
      return await withFlags(async () => await command.run(rest, io), command.flags ?? {})
    }
  }
}
