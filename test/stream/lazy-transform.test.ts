/**
 * LazyTransform (lib/stream/lazy-transform.ts): a class extending it is a
 * readable-stream Transform in every way a caller can see. That
 * readable-stream loads only on the first construction is proven in a fresh
 * process by test/startup-lazy.test.ts; here, in-process, the behaviour.
 */
import { Readable as NodeReadable, Writable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Transform } from 'readable-stream'
import t from 'tap'
import { LazyTransform } from '../../lib/stream/lazy-transform.js'

class Upper extends LazyTransform {
  readonly #prefix: string
  seen = 0
  destroyedWith: Error | null | undefined

  constructor (prefix: string) {
    super({ objectMode: true })
    this.#prefix = prefix
  }

  override _transform (chunk: string, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen++
    callback(null, this.#prefix + chunk.toUpperCase())
  }

  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    this.destroyedWith = err
    // super.x resolves through the placeholder to readable-stream's own.
    super._destroy(err, callback)
  }
}

t.test('a subclass is a readable-stream Transform, with its own fields, methods and options', async (t) => {
  const stage = new Upper('> ')
  t.ok(stage instanceof Transform, 'instanceof readable-stream Transform')
  t.ok(stage instanceof Upper)
  t.ok(stage instanceof LazyTransform)
  t.equal(stage.readableObjectMode, true, 'options reach Transform')
  const out: string[] = []
  await pipeline(NodeReadable.from(['a', 'b', 'c']), stage, new Writable({
    objectMode: true,
    write (line: string, _encoding, callback) {
      out.push(line)
      callback()
    }
  }))
  t.same(out, ['> A', '> B', '> C'])
  t.equal(stage.seen, 3)
  t.equal(stage.destroyedWith, null, 'its _destroy ran, calling super._destroy')
})

t.test('two subclasses, several instances: each keeps its own state', async (t) => {
  class Count extends LazyTransform {
    n = 0
    override _transform (_chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      this.n++
      callback()
    }
  }
  const a = new Count()
  const b = new Upper('b')
  const c = new Upper('c')
  a.write(Buffer.from('x'))
  a.write(Buffer.from('y'))
  b.write('z')
  t.equal(a.n, 2)
  t.equal(b.seen, 1)
  t.equal(c.seen, 0)
  t.equal(b.read(), 'bZ')
  const failure = new Error('stop')
  c.on('error', () => {})
  c.destroy(failure)
  t.equal(c.destroyedWith, failure)
  a.destroy()
  b.destroy()
})

t.test('called without new, it throws', async (t) => {
  t.throws(() => { (LazyTransform as unknown as () => void)() }, TypeError)
})
