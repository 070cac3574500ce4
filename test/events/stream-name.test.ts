/**
 * Stream names (spec §6.2): the allowed set, the length bounds, and the
 * trailing newline Kronos lets through (a defect, refused here).
 */
import t from 'tap'
import { checkStreamName, isValidStreamName, MAX_STREAM_NAME_LENGTH } from '../../lib/events/stream-name.js'

function code (fn: () => unknown): string {
  try {
    return `accepted: ${String(fn())}`
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`
  }
}

t.test('valid names pass through', async (t) => {
  for (const name of ['s', 'S1', 'page.views', 'a-b_c.d', '...', '-', '_', '0', 'x'.repeat(MAX_STREAM_NAME_LENGTH)]) {
    t.ok(isValidStreamName(name), name.slice(0, 20))
    t.equal(checkStreamName(name), name)
  }
})

t.test('invalid names are refused with SHOEBOX_INVALID_STREAM_NAME', async (t) => {
  const bad: unknown[] = ['', 'bad name', 'é', 'x\n', 'x\r\n', '\nx', 'a/b', 'a:b', 'a\u0000', 'ｘ', 'x'.repeat(MAX_STREAM_NAME_LENGTH + 1),
    null, undefined, 5, ['s']]
  for (const name of bad) {
    t.notOk(isValidStreamName(name), JSON.stringify(name))
    t.equal(code(() => checkStreamName(name)), 'SHOEBOX_INVALID_STREAM_NAME', JSON.stringify(name)?.slice(0, 20))
  }
  t.throws(() => checkStreamName('x\n'), { message: /invalid stream name "x\\n"/ }, 'the message shows the name escaped')
})
