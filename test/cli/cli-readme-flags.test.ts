/**
 * README's CLI reference and each command's --help name the same flags, both
 * ways, for the commands users script most (encode, write, pack, ship, serve,
 * events): a flag the README promises exists, and a flag --help offers is in
 * the README. (--help itself is every command's and is left out; so are code
 * blocks, which may show other commands and are run by examples.test.ts.)
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

const commands: Array<[string, string[][]]> = [
  ['encode', [['encode']]], ['write', [['write']]], ['pack', [['pack']]], ['ship', [['ship']]], ['serve', [['serve']]],
  ['events', [['events', 'get'], ['events', 'delete'], ['events', 'streams'], ['events', 'schema']]]
]

for (const [name, helps] of commands) {
  t.test(`shoebox ${name}: README and --help name the same flags`, async (t) => {
    const section = sections.find((s) => s.startsWith(`\`shoebox ${name} `))
    if (section === undefined) throw new Error(`no README section for shoebox ${name}`)
    let help = ''
    for (const args of helps) {
      const r = await cli([...args, '--help'])
      t.equal(r.code, 0, args.join(' '))
      help += r.stdout.toString()
    }
    const inReadme = flags(section)
    const inHelp = flags(help)
    t.same(inReadme.filter((f) => !inHelp.includes(f)), [], 'every flag in the README is in --help')
    t.same(inHelp.filter((f) => !inReadme.includes(f)), [], 'every flag in --help is in the README')
  })
}
