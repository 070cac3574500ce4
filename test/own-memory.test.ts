/**
 * ownBytes() and ownJoined(): bytes in memory of their own (own-memory.ts),
 * never a view of Node's shared pool or of a larger chunk; a buffer that is
 * all of its memory already is not copied.
 */
import t from 'tap'
import { ownBytes, ownJoined } from '../lib/own-memory.js'

const whole = (b: Buffer): boolean => b.byteOffset === 0 && b.buffer.byteLength === b.length

t.test('ownBytes: a view of a larger buffer is copied, a whole buffer is itself', async (t) => {
  const chunk = Buffer.allocUnsafeSlow(65536).fill(7)
  const view = chunk.subarray(100, 130)
  const own = ownBytes(view)
  t.ok(whole(own), '30 bytes of memory of its own')
  t.ok(own.equals(view))
  chunk.fill(8)
  t.equal(own[0], 7, 'not shared with the chunk')
  const pooled = Buffer.from('a small string')
  t.notOk(whole(pooled), "Buffer.from() cuts a small result from Node's shared pool")
  t.ok(whole(ownBytes(pooled)))
  t.equal(ownBytes(own), own, 'already its own: not copied')
  t.ok(whole(ownBytes(Buffer.alloc(0))))
})

t.test('ownJoined: the parts in order, in memory of its own', async (t) => {
  const parts = [Buffer.from('{"ev'), Buffer.from('ents":'), Buffer.allocUnsafeSlow(64).fill(0x61).subarray(3, 5)]
  const joined = ownJoined(parts, 12)
  t.equal(joined.toString(), '{"events":aa')
  t.ok(whole(joined))
  t.ok(whole(ownJoined([], 0)))
})
