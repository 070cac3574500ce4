/**
 * Every count option of the CLI is checked by one rule (positiveInteger() and
 * wholeNumber() in lib/cli/options.ts): decimal digits only, so '1e3', ' 5'
 * and '' are refused as plainly as '0' and 'abc', and every refusal is the
 * same usage line naming the flag and what was typed, exit 2, before
 * anything is read, created or sent.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cli } from '../cli-run.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-counts-'))
t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
const file = path.join(dir, 'f.txt')
fs.writeFileSync(file, 'x')
const nobody = 'http://127.0.0.1:1'

/** The command line up to the flag, and the flag. */
const positive: Array<[string[], string]> = [
  [['write', path.join(dir, 'w')], '--roll-records'],
  [['write', path.join(dir, 'w'), '--to', path.join(dir, 'store')], '--upload-concurrency'],
  [['upload', file, '--to', path.join(dir, 'store')], '--queue-size'],
  [['ship', nobody, '--stream', 's'], '--queue'],
  [['ship', nobody, '--stream', 's'], '--attempts'],
  [['events', 'streams', nobody], '--attempts'],
  [['serve', '--data', path.join(dir, 'served')], '--max-connections'],
  [['serve', '--data', path.join(dir, 'served')], '--max-put-streams']
]
const whole: Array<[string[], string]> = [
  [['events', 'get', nobody, 's'], '--limit'],
  [['meta', 'query', '--metadir', dir], '--limit'],
  // A port is a count from 0 too: Number() took '1e3' as port 1000 and ' 5' as port 5, and listened there.
  [['serve', '--data', path.join(dir, 'served')], '--port']
]

function usageLine (args: string[], message: string): RegExp {
  const name = args[0] === 'events' || args[0] === 'meta' ? `${args[0]} ${args[1]}` : args[0]
  const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^shoebox ${name}: ${escaped}\\n\\(try 'shoebox ${name} --help'\\)\\n$`)
}

t.test('a positive-integer option refuses anything but decimal digits from 1, in one wording', async (t) => {
  for (const [args, flag] of positive) {
    for (const bad of ['0', '-1', '1.5', '1e3', ' 5', '0x10', 'abc', '']) {
      const r = await cli([...args, `${flag}=${bad}`])
      const what = `${args.slice(0, 2).join(' ')} ${flag}=${JSON.stringify(bad)}`
      t.equal(r.code, 2, what)
      t.match(r.stderr, usageLine(args, `${flag}: must be a positive integer, got ${JSON.stringify(bad)}`), what)
    }
  }
  t.notOk(fs.existsSync(path.join(dir, 'w')), 'write refused before creating its directory')
  t.notOk(fs.existsSync(path.join(dir, 'store')), 'nothing uploaded')
})

t.test('a limit option (0 allowed) refuses the same shapes, in its own one wording', async (t) => {
  for (const [args, flag] of whole) {
    for (const bad of ['-1', '1.5', '1e3', ' 5', 'abc', '']) {
      const r = await cli([...args, `${flag}=${bad}`])
      const what = `${args.slice(0, 2).join(' ')} ${flag}=${JSON.stringify(bad)}`
      t.equal(r.code, 2, what)
      t.match(r.stderr, usageLine(args, `${flag}: must be a whole number, got ${JSON.stringify(bad)}`), what)
    }
  }
  t.notOk(fs.existsSync(path.join(dir, 'served')), 'serve refused before creating its data directory')
})

t.test('serve --port past 65535 is refused in its own words', async (t) => {
  const r = await cli(['serve', '--data', path.join(dir, 'served'), '--port', '65536'])
  t.equal(r.code, 2)
  t.match(r.stderr, usageLine(['serve'], '--port: must be 0..65535, got "65536"'))
})

t.test('a good count is taken: write --roll-records 2 seals a file per two lines', async (t) => {
  const out = path.join(dir, 'ok')
  const r = await cli(['write', out, '--roll-records', '2', '--template', 'x-{seq}.shoebox'], '{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n')
  t.equal(r.code, 0, r.stderr)
  t.same(fs.readdirSync(out).sort(), ['x-000000.shoebox', 'x-000001.shoebox'])
})
