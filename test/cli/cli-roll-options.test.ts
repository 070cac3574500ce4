/**
 * `shoebox write` and `shoebox encode` options parsed in lib/cli/options.ts
 * and lib/units.ts: `--flush-interval 0` turns the flush timer off (lines
 * given in a trickle over several default periods reach no file before
 * stdin ends), and the key=value flags of write and encode refuse an empty
 * key, an empty path or a missing '=' by name.
 */
import fs from 'node:fs'
import path from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import { cli } from '../cli-run.js'
import { decodeBytes, decodeFile, tempDir } from '../fixtures-roll/util.js'

function discard (): Writable {
  return new Writable({ write (_chunk, _encoding, callback) { callback() } })
}

/**
 * Run `shoebox write DIR ...args` in this process, giving it one line per
 * pause of TRICKLE; before stdin ends, `dir`'s file names as they are then.
 */
async function trickle (dir: string, args: string[], until: (names: string[]) => boolean): Promise<{ code: number, before: string[] }> {
  const stdin = new PassThrough()
  const running = main(['write', dir, ...args], { stdin, stdout: discard(), stderr: discard() })
  for (const [i, pause] of TRICKLE.entries()) {
    await sleep(pause)
    stdin.write(`{"i":${i}}\n`)
  }
  // Wait for the condition, or long enough for a 1 s timer to have fired twice.
  for (let waited = 0; waited < 2100 && !until(fs.readdirSync(dir)); waited += 50) await sleep(50)
  const before = fs.readdirSync(dir)
  stdin.end()
  return { code: await running, before }
}

const TRICKLE = [0, 300, 300, 300]

t.test('write --flush-interval 0: the timer is off, nothing reaches a file before stdin ends', async (t) => {
  for (const off of ['0', '0s']) {
    const dir = tempDir(t)
    const r = await trickle(dir, ['--flush-interval', off], (names) => names.length > 0)
    t.equal(r.code, 0, `--flush-interval ${off}: exit 0`)
    t.same(r.before, [], `--flush-interval ${off}: no file while stdin is open`)
    const names = fs.readdirSync(dir)
    t.equal(names.length, 1)
    t.same(decodeFile(path.join(dir, names[0])).map((d) => d.record.payload.toString()), TRICKLE.map((_, i) => `{"i":${i}}`))
  }
})

t.test('control: write --flush-interval 100ms writes the temporary file while stdin is open', async (t) => {
  const dir = tempDir(t)
  const r = await trickle(dir, ['--flush-interval', '100ms'], (names) => names.some((n) => n.endsWith('.part')))
  t.equal(r.code, 0)
  t.equal(r.before.filter((n) => n.endsWith('.part')).length, 1, 'the timer flushed the trickle into the temporary file')
})

t.test('write --flush-interval: negative, unitless and garbage values are usage errors naming the option', async (t) => {
  for (const bad of ['-1', '-1s', '5', 'soon', '']) {
    const dir = path.join(tempDir(t), 'never-made')
    const r = await cli(['write', dir, `--flush-interval=${bad}`], '{"a":1}\n')
    t.equal(r.code, 2, `--flush-interval '${bad}': exit 2`)
    t.match(r.stderr, /^shoebox write: --flush-interval: (expected a duration such as 10m, 1h, 30s or 250ms, got ".*"|must be).*\n/, `--flush-interval '${bad}'`)
    t.notOk(fs.existsSync(dir), 'no directory made')
  }
})

/** Each malformed shape, with the message that must name the flag and the value. */
const BAD_META: Array<[string[], RegExp]> = [
  [['--meta-from-field', '=x'], /--meta-from-field: must be \[key=\]path with a key before '=', got "=x"/],
  [['--meta-from-field', 'k='], /--meta-from-field: must be \[key=\]path, got "k="/],
  [['--meta-from-field', '='], /--meta-from-field: must be \[key=\]path with a key before '=', got "="/],
  [['--meta-from-field='], /--meta-from-field: must be \[key=\]path, got ""/],
  [['--meta', '=v'], /--meta: must be key=value, got "=v"/],
  [['--meta', 'k'], /--meta: must be key=value, got "k"/]
]

for (const command of ['write', 'encode'] as const) {
  t.test(`${command}: --meta and --meta-from-field refuse an empty key, an empty path and a missing '=' (exit 2)`, async (t) => {
    for (const [flags, message] of BAD_META) {
      const dir = path.join(tempDir(t), 'never-made')
      const args = command === 'write' ? ['write', dir, ...flags] : ['encode', ...flags]
      const r = await cli(args, '{"a":{"b":1}}\n')
      t.equal(r.code, 2, `${flags.join(' ')}: exit 2`)
      t.match(r.stderr, new RegExp(`^shoebox ${command}: ${message.source}\n`), `${flags.join(' ')}: named`)
      t.equal(r.stdout.length, 0, `${flags.join(' ')}: nothing written`)
      t.notOk(fs.existsSync(dir), `${flags.join(' ')}: no directory made`)
    }
  })

  t.test(`${command}: the well-formed shapes still work: key=path, path alone, key=value, an empty value`, async (t) => {
    const flags = ['--meta-from-field', 'b=a.b', '--meta-from-field', 'a.b', '--meta', 'k=v', '--meta', 'e=']
    const dir = tempDir(t)
    const r = await cli(command === 'write' ? ['write', dir, ...flags] : ['encode', ...flags], '{"a":{"b":1}}\n')
    t.equal(r.code, 0, r.stderr)
    const decoded = command === 'write'
      ? decodeFile(path.join(dir, fs.readdirSync(dir)[0]))
      : decodeBytes(r.stdout)
    t.same(decoded.map((d) => d.record.metadata), [{ k: 'v', e: '', b: '1', 'a.b': '1' }])
  })
}
