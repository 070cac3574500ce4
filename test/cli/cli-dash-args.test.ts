/**
 * '-' or '' where a command takes a DIR or PATTERN (cli/io.ts checkDirArg): a usage
 * error naming the mistake, exit 2, nothing made. `shoebox write -` made a
 * directory named '-' and sealed the records there, `read -` said 'no
 * archive matches -', `pack ''` 'option dir: ...' with exit 1 and `recover
 * ''` 'cannot recover : no such file'. './-' still names a directory '-'.
 */
import fs from 'node:fs'
import t from 'tap'
import { cli } from '../cli-run.js'
import { tempDir } from '../temp-dir.js'

const cwd = process.cwd()
const tmp = tempDir(t)
process.chdir(tmp)
t.teardown(() => { process.chdir(cwd) })

const commands: Array<[string[], string, string]> = [
  [['write'], 'directory', "for one archive on stdout, 'shoebox encode'"],
  [['recover'], 'directory', 'recover seals the temporary files in a directory'],
  [['pack', '--to', 'store'], 'directory', 'pack reads the files of a directory'],
  [['read'], 'PATTERN', "for archives on stdin, 'shoebox decode'"],
  [['ls'], 'PATTERN', "for archives on stdin, 'shoebox decode'"],
  [['unpack', '--out', 'out'], 'PATTERN', 'unpack reads archives by name']
]

t.test("'-' and '' are usage errors saying why, and nothing is made", async (t) => {
  for (const [[command, ...flags], what, instead] of commands) {
    const dash = await cli([command, '-', ...flags], '{"a":1}\n')
    t.equal(dash.code, 2, `${command} -`)
    t.equal(dash.stderr.split('\n')[0], `shoebox ${command}: '-' is not stdin or stdout here: it would name a ${what}; ${instead} (a ${what} of that name is './-')`)
    const empty = await cli([command, '', ...flags], '{"a":1}\n')
    t.equal(empty.code, 2, `${command} ''`)
    t.equal(empty.stderr.split('\n')[0], `shoebox ${command}: '' names no ${what} (an empty argument: an unset shell variable?)`)
  }
  t.same(fs.readdirSync(tmp), [], 'nothing made')
})

t.test("'./-' is a directory of that name", async (t) => {
  const r = await cli(['write', './-'], '{"a":1}\n')
  t.equal(r.code, 0, r.stderr)
  const read = await cli(['read', './-', '--payload-only'])
  t.equal(String(read.stdout), '{"a":1}\n')
  fs.rmSync('-', { recursive: true })
})
