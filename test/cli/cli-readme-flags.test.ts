/**
 * README's CLI reference and each command's --help name the same flags, both
 * ways, for every command the top-level --help lists: a flag the README
 * promises exists, and a flag --help offers is in the README. (--help itself
 * is every command's and is left out; so are code blocks, which may show
 * other commands and are run by examples.test.ts.)
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { cli } from '../cli-run.js'
import { ROOT } from '../transpile.js'

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const reference = readme.slice(readme.indexOf('\n## CLI reference'), readme.indexOf('\n## Guarantees'))
const sections = reference.replace(/```[\s\S]*?```/g, '').split('\n### ')

function flags (text: string): string[] {
  return [...new Set(text.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? [])].filter((f) => f !== '--help').sort()
}

/** Each README section, by the words after `shoebox` its heading starts with, and the --help runs it covers. */
const commands: Array<[string, string[][]]> = [
  ['encode', [['encode']]], ['decode', [['decode']]], ['verify', [['verify']]], ['write', [['write']]], ['read', [['read']]],
  ['ls', [['ls']]], ['recover', [['recover']]], ['upload', [['upload']]], ['multipart', [['multipart']]], ['pack', [['pack']]], ['unpack', [['unpack']]],
  ['ship', [['ship']]], ['serve', [['serve']]],
  ['events', [['events', 'get'], ['events', 'delete'], ['events', 'streams'], ['events', 'schema']]],
  ['meta generate', [['meta', 'generate'], ['meta', 'squash'], ['meta', 'dump'], ['meta', 'index']]],
  ['meta update', [['meta', 'update'], ['meta', 'inspect'], ['meta', 'query'], ['meta', 'get'], ['meta', 'store'], ['meta', 'push'], ['meta', 'pull']]]
]

/** Flags a section names for another command: verify's section also explains the damage lines of `read --lenient` and `decode --lenient`. */
const otherCommands: Record<string, string[]> = { verify: ['--lenient'] }

t.test('the list above is every command the top-level --help lists', async (t) => {
  const r = await cli(['--help'])
  const listed = [...r.stdout.toString().matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1])
  t.same([...new Set(commands.map(([, helps]) => helps[0][0]))].sort(), listed.sort())
})

for (const [name, helps] of commands) {
  t.test(`shoebox ${name}: README and --help name the same flags`, async (t) => {
    const section = sections.find((s) => s.startsWith(`\`shoebox ${name}`) && /^[ |`]/.test(s.slice(`\`shoebox ${name}`.length)))
    if (section === undefined) throw new Error(`no README section for shoebox ${name}`)
    let help = ''
    for (const args of helps) {
      const r = await cli([...args, '--help'])
      t.equal(r.code, 0, args.join(' '))
      help += r.stdout.toString()
    }
    const inReadme = flags(section).filter((f) => !(otherCommands[name] ?? []).includes(f))
    const inHelp = flags(help)
    t.same(inReadme.filter((f) => !inHelp.includes(f)), [], 'every flag in the README is in --help')
    t.same(inHelp.filter((f) => !inReadme.includes(f)), [], 'every flag in --help is in the README')
  })
}
