/**
 * A subcommand's failure line names the subcommand as typed ('shoebox events
 * get: ...'), the same name its usage hint gives, whatever failed (a usage
 * mistake, a refused connection, a missing metadir); the group's own mistakes
 * (no or an unknown subcommand) name the group. A command given an argument
 * it does not take quotes it as every refusal does (givenValue: "x").
 */
import t from 'tap'
import { cli } from '../cli-run.js'

t.test('a command that takes no arguments quotes the one given, as every refusal quotes what was typed', async (t) => {
  const dir = t.testdir()
  for (const [args, line, hint] of [
    [['meta', 'update', '--metadir', dir, 'x'], 'shoebox meta update: takes no arguments, got "x"', 'meta update'],
    [['meta', 'inspect', '--metadir', dir, 'x y'], 'shoebox meta inspect: takes no arguments, got "x y"', 'meta inspect'],
    [['encode', 'in.ndjson'], 'shoebox encode: takes no arguments (it reads stdin), got "in.ndjson"', 'encode'],
    [['serve', '--data', dir, 'extra'], 'shoebox serve: takes no arguments, got "extra"', 'serve']
  ] as const) {
    const r = await cli([...args])
    t.same([r.code, r.stderr], [2, `${line}\n(try 'shoebox ${hint} --help')\n`], args.join(' '))
  }
})

t.test("a subcommand's line names it as typed, for a usage mistake and for any other failure", async (t) => {
  const base = t.testdir({ _mmmeta: {} })
  const usageCases = [
    [['events', 'get', 'http://127.0.0.1:1', 's', '--limit=-1'], 'shoebox events get: --limit: must be a whole number, got "-1"', 'events get'],
    [['meta', 'query', '--metadir', base, 'bad'], 'shoebox meta query: a condition must be KEY OP VALUE (OP one of = != < <= > >= ~), got "bad"', 'meta query']
  ] as const
  for (const [args, line, hint] of usageCases) {
    const r = await cli([...args])
    t.same([r.code, r.stderr], [2, `${line}\n(try 'shoebox ${hint} --help')\n`], args.join(' '))
  }
  const refused = await cli(['events', 'streams', 'http://127.0.0.1:1', '--attempts', '1'])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^shoebox events streams: POST http:\/\/127\.0\.0\.1:1\/1\.0\/streams: [^\n]*ECONNREFUSED[^\n]*\n$/, 'a refused connection')
  const missing = await cli(['meta', 'get', '--metadir', `${base}/none`, 'uid'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^shoebox meta get: [^\n]+\n$/, 'no metadir')
})

t.test("the group's own mistakes name the group", async (t) => {
  for (const [args, line] of [
    [['meta', 'nope'], "shoebox meta: unknown subcommand 'meta nope' (one of "],
    [['events'], 'shoebox events: events needs a subcommand: ']
  ] as const) {
    const r = await cli([...args])
    t.equal(r.code, 2, args.join(' '))
    t.ok(r.stderr.startsWith(line), r.stderr)
    t.ok(r.stderr.endsWith(`(try 'shoebox ${args[0]} --help')\n`), r.stderr)
  }
})
