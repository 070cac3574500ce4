/**
 * main.ts loads each subcommand only when it runs, so the main help lists
 * names and summaries of its own: they must be the commands' own.
 */
import t from 'tap'
import { commands } from '../../lib/cli/main.js'
import { cli } from '../cli-run.js'

t.test('every command entry loads the command it names, with the summary the help shows', async (t) => {
  for (const entry of commands) {
    const command = await entry.load()
    t.same({ name: command.name, summary: command.summary }, { name: entry.name, summary: entry.summary }, entry.name)
  }
  const help = await cli(['--help'])
  t.equal(help.code, 0)
  for (const entry of commands) t.match(help.stdout.toString(), `  ${entry.name} `, `${entry.name} is in the help`)
})

t.test('a command\'s own --help loads it; an unknown one is a usage error', async (t) => {
  const upload = await cli(['upload', '--help'])
  t.equal(upload.code, 0)
  t.match(upload.stdout.toString(), /^Usage: shoebox upload FILE\.\.\. --to URL/)
  const unknown = await cli(['nope'])
  t.equal(unknown.code, 2)
  t.equal(unknown.stderr, "shoebox: unknown command 'nope' (try 'shoebox --help')\n")
})
