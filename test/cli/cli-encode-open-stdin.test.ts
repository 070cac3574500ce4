/**
 * shoebox encode --validate on a stdin that stays open (tail -f): a bad line
 * ends the output, and the command stops reading, reports and exits, rather
 * than reading for ever with the line unreported.
 */
import t from 'tap'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { startCli } from '../fixtures-roll/cli-child.js'
import { decodeRecords } from '../helpers.js'

const bin = cliBinary()

t.test('a bad line on a stdin never ended: the lines before it written, one line naming it, exit 1', async (t) => {
  const { child, done } = startCli(t, bin, ['encode', '--validate'])
  // stdin is written to and left open, as a producer that never ends leaves it.
  child.stdin.write('{"a":1}\n{"a":2}\nnope\n{"a":3}\n')
  const r = await done
  t.equal(r.code, 1)
  t.equal(r.stderr, 'shoebox encode: stdin: line 3: invalid JSON: Unexpected token \'o\', "nope" is not valid JSON (2 records written before it)\n')
  t.same((await decodeRecords(r.stdout)).map((rec) => rec.payload.toString()), ['{"a":1}', '{"a":2}'])
})

t.test('--on-invalid skip on an open stdin reads on: the lines after a bad one are written once stdin ends', async (t) => {
  const { child, done } = startCli(t, bin, ['encode', '--validate', '--on-invalid', 'skip'])
  child.stdin.write('{"a":1}\nnope\n')
  child.stdin.end('{"a":3}\n')
  const r = await done
  t.equal(r.code, 0)
  t.same((await decodeRecords(r.stdout)).map((rec) => rec.payload.toString()), ['{"a":1}', '{"a":3}'])
})
