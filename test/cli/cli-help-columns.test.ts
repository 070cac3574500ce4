/**
 * Every command's --help lists its options in one column, each flag written
 * as a flag: the options came from pieces several commands share, each
 * written at its own column, so `shoebox encode --help` showed --gzip at
 * one column under --format at another, and `read --help` printed
 * `--order name|mtime file order`, a flag and its description one space
 * apart, as if `file` were one of the orders. Run for every command and
 * subcommand the helps list, so a new one is checked too.
 */
import t from 'tap'
import { cli } from '../cli-run.js'

/** A flag as the helps write them: `--name`, `--name[=LEVEL]`, `-h, --help`, then at most one argument. */
const FLAG = /^(-h, )?--[a-z][a-z-]*(\[=[A-Z]+\])?( ([A-Z][A-Z:]*|[a-z][a-zA-Z0-9]*(\|[a-zA-Z0-9]+)+|\[key=\]path|key=value))?$/

async function help (args: string[]): Promise<string> {
  const r = await cli([...args, '--help'])
  if (r.code !== 0) throw new Error(`shoebox ${args.join(' ')} --help: exit ${String(r.code)}`)
  return r.stdout.toString()
}

/** The names listed under `heading` (Commands:, Subcommands:). */
function listed (text: string, heading: string): string[] {
  const list = text.split(`\n${heading}\n`)[1]?.split('\n\n')[0] ?? ''
  return [...list.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1])
}

t.test('every --help: one column for the option descriptions, every flag written as one', async (t) => {
  const commands: string[][] = []
  for (const name of listed(await help([]), 'Commands:')) {
    const text = await help([name])
    const subcommands = listed(text, 'Subcommands:')
    if (subcommands.length === 0) commands.push([name])
    else for (const sub of subcommands) commands.push([name, sub])
  }
  t.ok(commands.length > 25, `${commands.length} commands and subcommands`)
  for (const args of commands) {
    const options = (await help(args)).split('\nOptions:\n')[1] ?? ''
    const columns = new Set<number>()
    const problems: string[] = []
    for (const line of options.split('\n')) {
      if (line === '') continue
      const entry = /^ {2}(-\S(?:\S| (?! ))*)( {2,})(\S)/.exec(line) ?? /^ {2}(-\S(?:\S| (?! ))*)$/.exec(line)
      if (entry !== null) {
        if (!FLAG.test(entry[1])) problems.push(`not a flag: '${entry[1]}'`)
        if (entry[2] !== undefined) columns.add(2 + entry[1].length + entry[2].length)
      } else if (/^ {3,}\S/.test(line)) {
        columns.add(line.length - line.trimStart().length)
      } else {
        problems.push(`neither an option nor its description: '${line}'`)
      }
    }
    t.same({ columns: [...columns], problems }, { columns: [...columns].slice(0, 1), problems: [] }, `shoebox ${args.join(' ')} --help`)
  }
})
