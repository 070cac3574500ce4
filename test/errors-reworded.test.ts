/** reworded(): a re-worded error keeps its class and fields, with the original as its cause. */
import t from 'tap'
import { CorruptArchiveError, reworded, ShoeboxError, VariableRefusedError } from '../lib/errors.js'

t.test('a VariableRefusedError re-worded stays one, with its variable and code', async (t) => {
  const err = new VariableRefusedError('SHOEBOX_USAGE', 'SHOEBOX_ZSTD', 'SHOEBOX_ZSTD must be one of ...')
  const r = reworded(err, `${err.message}; 1 file recovered before it`)
  t.ok(r instanceof VariableRefusedError)
  t.same([r.name, r.code, r.variable, r.message, r.cause], ['VariableRefusedError', 'SHOEBOX_USAGE', 'SHOEBOX_ZSTD', 'SHOEBOX_ZSTD must be one of ...; 1 file recovered before it', err])
  t.equal(err.message, 'SHOEBOX_ZSTD must be one of ...', 'the original is left as it was')
  t.match(r.stack, /^VariableRefusedError: SHOEBOX_ZSTD must be one of \.\.\.; 1 file recovered before it\n/)
})

t.test('a CorruptArchiveError keeps its damage fields; a plain ShoeboxError stays plain', async (t) => {
  const damage = new CorruptArchiveError('truncated', 40, 'cut short', 'a.shoebox')
  const r = reworded(damage, `position 40 in x: ${damage.message}`)
  t.ok(r instanceof CorruptArchiveError)
  t.same([r.reason, r.offset, r.file, r.cutShort, r.code], ['truncated', 40, 'a.shoebox', true, 'SHOEBOX_TRUNCATED'])
  const plain = reworded(new ShoeboxError('SHOEBOX_IO', 'disk'), 'disk; kept')
  t.equal(Object.getPrototypeOf(plain), ShoeboxError.prototype)
  t.equal(plain.message, 'disk; kept')
})
