/**
 * An option the API refuses is an InvalidOptionError that carries the option
 * and the reason as fields, so the CLI words its own line ('--zstd=0: the
 * level ...') from them instead of rewriting the message with a regex
 * (lib/cli/compress-options.ts).
 */
import t from 'tap'
import { compressionOf } from '../lib/compress/codecs.js'
import { InvalidOptionError, ShoeboxError } from '../lib/index.js'
import { parseSize } from '../lib/units.js'
import { cli } from './cli-run.js'

function refusal (fn: () => unknown): InvalidOptionError {
  try {
    fn()
  } catch (err) {
    if (err instanceof InvalidOptionError) return err
    throw err
  }
  throw new Error('not refused')
}

t.test('the error names the option and the reason; the message is the two joined', async (t) => {
  for (const [fn, option, reason] of [
    [() => compressionOf({ codec: 'gzip', level: 12 }), 'gzip.level', 'must be an integer from 1 to 9, got 12'],
    [() => compressionOf({ codec: 'zstd', level: 0 }), 'zstd.level', 'must be an integer from -131072 to 22, not 0, got 0'],
    [() => parseSize('ten', '--roll-size'), '--roll-size', "expected a size such as 100MiB, 10MB or 4096, got 'ten'"]
  ] as const) {
    const err = refusal(fn)
    t.ok(err instanceof ShoeboxError, `${option}: a ShoeboxError`)
    t.match(err, { code: 'SHOEBOX_INVALID_OPTION', option, reason, message: `option ${option}: ${reason}` }, option)
  }
})

t.test('the CLI names the flag as typed, from the fields: the API option name never shows', async (t) => {
  for (const [command, flag, line] of [
    ['encode', '--zstd=0', "--zstd=0: the level must be an integer from -131072 to 22, not 0, got 0"],
    ['encode', '--gzip=12', '--gzip=12: the level must be an integer from 1 to 9, got 12'],
    ['pack', '--zstd=99', '--zstd=99: the level must be an integer from -131072 to 22, not 0, got 99']
  ]) {
    const args = command === 'pack' ? ['pack', '.', '--to', 'x', flag] : [command, flag]
    const r = await cli(args)
    t.equal(r.code, 2, flag)
    t.equal(r.stderr, `shoebox ${command}: ${line}\n(try 'shoebox ${command} --help')\n`, flag)
  }
})
