/**
 * A command group (`shoebox meta ...`, `shoebox events ...`) dispatches to
 * subcommands loaded on demand, answers --help at both levels, and refuses
 * a missing or unknown subcommand as a usage error.
 */
import t from 'tap'
import { PassThrough } from 'node:stream'
import type { Command } from '../../lib/cli/command.js'
import { commandGroup } from '../../lib/cli/command-group.js'
import type { Io } from '../../lib/cli/io.js'
import { ShoeboxError } from '../../lib/errors.js'

function io (): Io & { out: () => string } {
  const stdout = new PassThrough()
  const chunks: Buffer[] = []
  stdout.on('data', (c: Buffer) => chunks.push(c))
  return { stdin: new PassThrough(), stdout, stderr: new PassThrough(), out: () => Buffer.concat(chunks).toString() }
}

const loaded: string[] = []
function sub (name: string): Command {
  return {
    name,
    summary: `the ${name} part`,
    help: `Usage: shoebox g ${name}`,
    async run (argv, io) {
      io.stdout.write(`${name}:${argv.join(',')}\n`)
      return 7
    }
  }
}
const group = commandGroup('g', 'a group of two', [
  { name: 'one', summary: 'the one part', load: async () => { loaded.push('one'); return sub('one') } },
  { name: 'second', summary: 'the second part', load: async () => { loaded.push('second'); return sub('second') } }
])

t.test('the group help lists its subcommands without loading them', async (t) => {
  const s = io()
  t.equal(await group.run(['--help'], s), 0)
  await new Promise((resolve) => setImmediate(resolve))
  t.match(s.out(), /^Usage: shoebox g <subcommand>/)
  t.match(s.out(), /\n {2}one {5}the one part\n {2}second {2}the second part\n/)
  t.same(loaded, [])
  t.equal(group.group, true)
})

t.test('a subcommand runs with the rest of the arguments; its own --help is its own', async (t) => {
  const s = io()
  t.equal(await group.run(['second', 'a', '--x'], s), 7)
  t.equal(await group.run(['one', '--help'], s), 0)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(s.out(), 'second:a,--x\nUsage: shoebox g one\n')
  t.same(loaded, ['second', 'one'])
})

t.test('a missing or unknown subcommand is a usage error naming the choices', async (t) => {
  await t.rejects(group.run([], io()), { constructor: ShoeboxError, code: 'SHOEBOX_USAGE', message: /needs a subcommand: one, second$/ })
  await t.rejects(group.run(['three'], io()), { constructor: ShoeboxError, code: 'SHOEBOX_USAGE', message: /^unknown subcommand 'g three' \(one of one, second\)$/ })
})
