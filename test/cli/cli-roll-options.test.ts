/**
 * `shoebox write` and `shoebox encode` options parsed in lib/cli/options.ts
 * and lib/units.ts: `--flush-interval 0` turns the flush timer off (lines
 * reach no file before stdin ends, while a run with the default timer
 * flushes the same lines twice), and the key=value flags of write and encode refuse an empty
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

/** `shoebox write DIR ...args` run in this process: its stdin, and its exit code once done. */
function startWrite (dir: string, args: string[]): { stdin: PassThrough, running: Promise<number> } {
  const stdin = new PassThrough()
  return { stdin, running: main(['write', dir, ...args], { stdin, stdout: discard(), stderr: discard() }) }
}

/** The size of `dir`'s temporary file, -1 while it has none. */
function partSize (dir: string): number {
  const part = fs.readdirSync(dir).find((n) => n.endsWith('.part'))
  return part === undefined ? -1 : fs.statSync(path.join(dir, part)).size
}

t.test('write --flush-interval 0: the timer is off, nothing reaches a file before stdin ends', async (t) => {
  for (const off of ['0', '0s']) {
    // Beside it, a control run with the default timer (1 s) is given the same lines: once the control's timer has
    // flushed twice, a timer in the run under test would have fired too. (A fixed wait instead passed a run whose
    // timer was late under load.)
    const dir = tempDir(t)
    const control = tempDir(t)
    const runs = [startWrite(dir, ['--flush-interval', off]), startWrite(control, [])]
    const give = (i: number): void => { for (const r of runs) r.stdin.write(`{"i":${i}}\n`) }
    give(0)
    while (partSize(control) <= 0) await sleep(20)
    const once = partSize(control)
    give(1)
    while (partSize(control) === once) await sleep(20)
    const before = fs.readdirSync(dir)
    for (const r of runs) r.stdin.end()
    const [code, controlCode] = await Promise.all(runs.map(async (r) => await r.running))
    t.same([code, controlCode], [0, 0], `--flush-interval ${off}: exit 0`)
    t.same(before, [], `--flush-interval ${off}: no file while stdin is open`)
    const names = fs.readdirSync(dir)
    t.equal(names.length, 1)
    t.same(decodeFile(path.join(dir, names[0])).map((d) => d.record.payload.toString()), ['{"i":0}', '{"i":1}'])
  }
})

t.test('control: write --flush-interval 100ms writes the temporary file while stdin is open', async (t) => {
  const dir = tempDir(t)
  const { stdin, running } = startWrite(dir, ['--flush-interval', '100ms'])
  stdin.write('{"i":0}\n')
  while (partSize(dir) <= 0) await sleep(20)
  const before = fs.readdirSync(dir)
  stdin.end()
  t.equal(await running, 0)
  t.equal(before.filter((n) => n.endsWith('.part')).length, 1, 'the timer flushed the line into the temporary file')
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
