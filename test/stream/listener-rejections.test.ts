/**
 * An async listener that rejects fails the stream it listens to, with its
 * own error, as a listener that throws does: it never becomes an unhandled
 * rejection, which ends the process (Node's default since 15). The README's
 * own 'sealed' example is an async listener; a rename that fails there ended
 * the ETL job while the pipeline resolved as if nothing had happened. (The
 * rolling sink's 'sealed' and 'upload' listeners and archiveSource's 'file',
 * 'fileEnd', 'skipped' and 'corrupt' listeners are awaited, and their error
 * is wrapped to name the file: SHOEBOX_LISTENER_FAILED.)
 */
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, decode, encodeNdjson, encodeRecords, openStore, rollingSink, uploadSink, type RecordInput } from '../../lib/index.js'
import { ship } from '../../lib/events/ship.js'
import { stamp } from '../../lib/events/stamp.js'
import { failsOnListenerRejection } from '../../lib/stream/listener-rejections.js'
import { LazyTransform } from '../../lib/stream/lazy-transform.js'
import { unhandledDuring, withoutUnhandled } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

const drain = (): Writable => new Writable({ objectMode: true, write (_chunk, _enc, done) { done() } })

/**
 * The chunks, then a pause before the end: the listener's rejection comes
 * while the stream still runs. (One that comes after the stream has ended is
 * left unhandled, as before: lib/stream/listener-rejections.ts.)
 */
async function * thenAPause (chunks: unknown[]): AsyncGenerator<unknown> {
  yield * chunks
  await new Promise((resolve) => setTimeout(resolve, 50))
}

t.test("rollingSink: an async 'sealed' listener that rejects fails the sink, naming the file; every record it took is sealed", async (t) => {
  const dir = tempDir(t)
  await withoutUnhandled(t, async () => {
    const failure = new Error('rename: no such directory')
    const sink = rollingSink({ dir, roll: { records: 2 } })
    sink.on('sealed', async () => { await Promise.resolve(); throw failure })
    // The first file is sealed while the sink still runs: 'c' waits in the second.
    async function * records (): AsyncGenerator<RecordInput> {
      yield * [{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }]
      await once(sink, 'sealed')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // (More in test/roll/sealed-listeners.test.ts: the sink awaits these listeners.)
    await t.rejects(pipeline(records, sink), { code: 'SHOEBOX_LISTENER_FAILED', cause: failure }, 'the pipeline fails with the listener\'s error as its cause')
  })
  const sealed = fs.readdirSync(dir).filter((name) => !name.startsWith('.'))
  t.equal(sealed.length, 2, 'the file the listener was told of stays sealed, and the one being written is sealed too')
})

t.test("archiveSource: an async 'file' listener that rejects fails the source, naming the file", async (t) => {
  const dir = tempDir(t)
  fs.writeFileSync(path.join(dir, 'a.shoebox'), encodeRecords([{ payload: 'a' }]))
  await withoutUnhandled(t, async () => {
    const failure = new Error('could not note the file')
    const source = archiveSource(path.join(dir, '*.shoebox'))
    source.on('file', async () => { throw failure })
    // (More in test/source/source-listeners.test.ts: the source awaits these listeners.)
    await t.rejects(pipeline(source, drain()), { code: 'SHOEBOX_LISTENER_FAILED', cause: failure })
  })
})

t.test("decode: an async 'corrupt' listener that rejects fails the stream", async (t) => {
  await withoutUnhandled(t, async () => {
    const failure = new Error('could not log the damage')
    const damaged = Buffer.concat([encodeRecords([{ payload: 'a' }]), Buffer.from('garbage garbage'), encodeRecords([{ payload: 'b' }])])
    const stream = decode({ mode: 'lenient' })
    stream.on('corrupt', async () => { throw failure })
    await t.rejects(pipeline(Readable.from(thenAPause([damaged])), stream, drain()), failure)
  })
})

t.test("encodeNdjson: an async 'invalid' listener that rejects fails the stream", async (t) => {
  await withoutUnhandled(t, async () => {
    const failure = new Error('could not log the line')
    const stream = encodeNdjson({ validate: true, onInvalid: 'skip' })
    stream.on('invalid', async () => { throw failure })
    await t.rejects(pipeline(Readable.from(thenAPause([Buffer.from('{"a":1}\nnot json\n{"b":2}\n')])), stream, drain()), failure)
  })
})

t.test("stamp: an async 'invalid' listener that rejects fails the stream", async (t) => {
  await withoutUnhandled(t, async () => {
    const failure = new Error('could not log the event')
    const stream = stamp({ stream: 's', onInvalid: 'event' })
    stream.on('invalid', async () => { throw failure })
    await t.rejects(pipeline(Readable.from(thenAPause(['not json'])), stream, drain()), failure)
  })
})

t.test("uploadSink: an async 'progress' listener that rejects fails the upload", async (t) => {
  const dir = tempDir(t)
  const store = openStore(dir)
  t.teardown(async () => { await store.close() })
  await withoutUnhandled(t, async () => {
    const failure = new Error('could not report progress')
    const sink = uploadSink(store, 'k.bin')
    sink.on('progress', async () => { throw failure })
    await t.rejects(pipeline(Readable.from([Buffer.alloc(1000)]), sink), failure)
  })
  t.equal(await store.exists('k.bin'), false, 'no object is left')
})

t.test("ship: an async 'invalid' listener that rejects fails the stream", async (t) => {
  await withoutUnhandled(t, async () => {
    const failure = new Error('could not log the event')
    // Refused before any request: no server is needed, and nothing is sent.
    const shipper = ship('http://127.0.0.1:9', { stream: 's', retry: { attempts: 1 } })
    shipper.on('invalid', async () => { throw failure })
    await t.rejects(pipeline(Readable.from([[1, 2]]), shipper), failure)
  })
})

class Told extends failsOnListenerRejection(Writable) {
  constructor () {
    super({ objectMode: true, highWaterMark: 3 })
  }

  override _write (chunk: unknown, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.emit('told', chunk)
    done()
  }
}

t.test('failsOnListenerRejection: the stream keeps the options its class gives, and captures rejections on top', async (t) => {
  const told = new Told()
  t.equal(told.writableHighWaterMark, 3)
  t.equal(told.writableObjectMode, true)
  t.ok(told instanceof Writable)
  const failure = new Error('listener failed')
  const unhandled = await unhandledDuring(async () => {
    told.on('told', async () => { throw failure })
    told.write('a')
    const [err] = await once(told, 'error')
    t.equal(err, failure, 'the listener\'s rejection is the stream\'s error')
  })
  t.same(unhandled, [], 'and it is not also an unhandled rejection')
})

t.test('failsOnListenerRejection: over a LazyTransform (readable-stream) as over node:stream', async (t) => {
  class Passing extends failsOnListenerRejection(LazyTransform) {
    constructor () {
      super({ objectMode: true })
    }

    override _transform (chunk: unknown, _encoding: BufferEncoding, done: (error?: Error | null, data?: unknown) => void): void {
      this.emit('seen', chunk)
      done(null, chunk)
    }
  }
  const failure = new Error('could not note it')
  const unhandled = await unhandledDuring(async () => {
    const stream = new Passing()
    stream.on('seen', async () => { throw failure })
    await t.rejects(pipeline(Readable.from(thenAPause(['a'])), stream, drain()), failure)
  })
  t.same(unhandled, [])
})

t.test('failsOnListenerRejection: a second rejection after the stream failed is dropped; the first is the error', async (t) => {
  const told = new Told()
  const first = new Error('first')
  const second = new Error('second')
  const unhandled = await unhandledDuring(async () => {
    told.on('told', async () => { throw first })
    told.on('told', async () => { await new Promise((resolve) => setTimeout(resolve, 10)); throw second })
    told.write('a')
    const [err] = await once(told, 'error')
    t.equal(err, first)
  })
  t.same(unhandled, [], 'the second is not reported again')
})

t.test('failsOnListenerRejection: a rejection after the stream ended cleanly is left unhandled, not dropped unseen', async (t) => {
  const told = new Told()
  const late = new Error('late')
  const unhandled = await unhandledDuring(async () => {
    told.on('told', async () => { await new Promise((resolve) => setTimeout(resolve, 20)); throw late })
    told.end('a')
    await once(told, 'close')
    t.equal(told.errored, null, 'the stream ended without error')
  })
  t.same(unhandled, [late])
})
