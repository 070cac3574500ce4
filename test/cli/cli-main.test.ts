/**
 * main.ts loads each subcommand only when it runs, so the main help lists
 * names and summaries of its own: they must be the commands' own.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
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

t.test('--version and -v print the package\'s version, as the main help and the README say', async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  for (const flag of ['--version', '-v']) {
    const r = await cli([flag])
    t.same([r.code, r.stdout.toString(), r.stderr.toString()], [0, `${version}\n`, ''], flag)
  }
  t.match((await cli(['--help'])).stdout.toString(), "'shoebox --version' for the version")
})

t.test('a command\'s own --help loads it; an unknown one is a usage error', async (t) => {
  const upload = await cli(['upload', '--help'])
  t.equal(upload.code, 0)
  t.match(upload.stdout.toString(), /^Usage: shoebox upload FILE\.\.\. --to URL/)
  const unknown = await cli(['nope'])
  t.equal(unknown.code, 2)
  t.equal(unknown.stderr, "shoebox: unknown command 'nope' (try 'shoebox --help')\n")
})

t.test('an unknown option, a missing value, a value where none is taken: one line naming the option, for every command', async (t) => {
  // Every command and subcommand: each parses its arguments through lib/cli/options.ts parse().
  const groups: Record<string, string[]> = {
    events: ['get', 'delete', 'streams', 'schema'],
    meta: ['generate', 'squash', 'dump', 'index', 'update', 'inspect', 'query', 'get', 'store', 'push']
  }
  const names = commands.flatMap((c) => (groups[c.name] ?? ['']).map((sub) => sub === '' ? c.name : `${c.name} ${sub}`))
  for (const name of names) {
    for (const [args, message] of [
      [['--nope'], "unknown option '--nope'"],
      [['--nope=3'], "unknown option '--nope'"],
      [['-Z'], "unknown option '-Z'"]
    ] as const) {
      const r = await cli([...name.split(' '), ...args])
      t.equal(r.code, 2, `${name} ${args.join(' ')}: exit 2`)
      // The line and the hint both name the (sub)command as typed.
      t.equal(r.stderr, `shoebox ${name}: ${message}\n(try 'shoebox ${name} --help')\n`, `${name} ${args.join(' ')}`)
    }
  }
  for (const [args, message] of [
    [['pack', 'dir', '--to'], '--to needs a value'],
    [['write', 'dir', '--roll-size'], '--roll-size needs a value'],
    [['read', 'x', '--lenient=yes'], '--lenient takes no value'],
    [['read', 'x', '--max-frame-size', '-1'], "--max-frame-size's value starts with '-': give it as --max-frame-size=VALUE"],
    [['serve', 'dir'], 'takes no arguments, got "dir"'],
    [['unpack', 'x', '--to'], "unknown option '--to'"]
  ] as const) {
    const r = await cli([...args])
    t.equal(r.code, 2, args.join(' '))
    t.equal(r.stderr, `shoebox ${args[0]}: ${message}\n(try 'shoebox ${args[0]} --help')\n`, args.join(' '))
  }
})

t.test('SHOEBOX_NATIVE=off is a usage error naming the variable, not the addon left on', async (t) => {
  const saved = process.env.SHOEBOX_NATIVE
  process.env.SHOEBOX_NATIVE = 'off'
  t.teardown(() => { if (saved === undefined) delete process.env.SHOEBOX_NATIVE; else process.env.SHOEBOX_NATIVE = saved })
  const { code, stdout, stderr } = await cli(['encode'], '{"a":1}\n')
  t.equal(code, 2)
  // One line, saying what the variable takes: no "(try 'shoebox encode --help')", whose flags cannot fix it.
  t.equal(stderr, 'shoebox encode: SHOEBOX_NATIVE must be \'0\' or \'1\' (or unset), got "off"\n')
  t.equal(stdout.length, 0, 'no archive written')
})

t.test('a usage error whose line begins with a file named like a variable (SHOEBOX_NOTES) keeps its --help hint', async (t) => {
  // The hint was left out by the line's first word ('SHOEBOX_NOTES and ...' looked like 'SHOEBOX_ZSTD must be ...').
  const dir = t.testdir({ SHOEBOX_NOTES: 'a', sub: { SHOEBOX_NOTES: 'b' }, out: {} })
  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => { process.chdir(cwd) })
  const r = await cli(['upload', 'SHOEBOX_NOTES', 'sub/SHOEBOX_NOTES', '--to', 'out'])
  t.equal(r.code, 2)
  t.equal(r.stderr, 'shoebox upload: SHOEBOX_NOTES and sub/SHOEBOX_NOTES would both be uploaded as "SHOEBOX_NOTES" (the second replacing the first); ' +
    "upload them to different --to prefixes\n(try 'shoebox upload --help')\n")
})

t.test('a usage error exits 2 even when stderr\'s reader has gone (`shoebox write 2>&1 | head -1`)', async (t) => {
  // Imported here: it loads TypeScript's compiler, which the tests above do without.
  const { cliBinary } = await import('../fixtures-s3/cli-build.js')
  const child = spawn(process.execPath, [cliBinary(), 'write'], { stdio: ['pipe', 'ignore', 'pipe'] })
  // Our end of its stderr closed before it writes: both lines (the refusal and its hint) meet EPIPE.
  child.stderr.destroy()
  child.stdin.end()
  const [code] = await once(child, 'close') as [number | null]
  t.equal(code, 2, 'the exit code is the usage error\'s, not the failed write\'s')
})
