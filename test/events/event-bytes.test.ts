/**
 * An event given as bytes is its JSON text, whether the bytes are a Buffer
 * or a plain Uint8Array: `Readable.fromWeb(response.body)`, a web stream's
 * reader or TextEncoder give Uint8Arrays, not Buffers. A Uint8Array was
 * taken for an event object and stamped or shipped as {"0":123,"1":34,...};
 * other views of memory (a Uint16Array, a DataView) are no event and no
 * text, and are refused, by name.
 */
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { stamp, type InvalidEventInfo, type StampedEventRecord } from '../../lib/events/stamp.js'
import { ship } from '../../lib/events/ship.js'
import { startCollector } from './fixtures/collector.js'

const encoder = new TextEncoder()

t.test('stamp(): a Uint8Array is the event\'s JSON text, as a Buffer is; one that is not UTF-8 is invalid; a Uint16Array is refused', async (t) => {
  const stamper = stamp({ stream: 's', onInvalid: 'event' })
  const invalid: Array<[number, string, string]> = []
  stamper.on('invalid', (info: InvalidEventInfo) => invalid.push([info.line, info.error.code, info.error.message]))
  const out: StampedEventRecord[] = []
  const chunks = [
    encoder.encode('{"page":"/é","n":1}'),
    new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), // {"a":"<0xff>"}
    new Uint16Array([0x7b7d]),
    new DataView(new ArrayBuffer(2)),
    Buffer.from('{"n":5}')
  ]
  await pipeline(Readable.from(chunks, { objectMode: true }), stamper,
    new Writable({ objectMode: true, write (e: StampedEventRecord, _enc, cb) { out.push(e); cb() } }))
  t.same(out.map((e) => [e.line, (JSON.parse(e.event) as { page?: string, n: number }).n]), [[1, 1], [5, 5]])
  t.equal((JSON.parse(out[0].event) as { page: string }).page, '/é', 'the text decoded as UTF-8')
  t.same(invalid.map(([line, code]) => [line, code]), [[2, 'SHOEBOX_INVALID_EVENT'], [3, 'SHOEBOX_INVALID_EVENT'], [4, 'SHOEBOX_INVALID_EVENT']])
  t.match(invalid[0][2], /^event 2: not valid UTF-8/)
  t.match(invalid[1][2], /^event 3: an event is an object or its JSON text, got a Uint16Array: the bytes of its text come as a Buffer or Uint8Array/)
  t.match(invalid[2][2], /^event 4: an event is an object or its JSON text, got a DataView: the bytes of its text come as a Buffer or Uint8Array/)
})

t.test('stamp() with streamField reads a Uint8Array event\'s fields from its text', async (t) => {
  const out = await Readable.from([encoder.encode('{"kind":"clicks","n":1}')], { objectMode: true })
    .compose(stamp({ streamField: 'kind' })).toArray() as StampedEventRecord[]
  t.same(out.map((e) => e.stream), ['clicks'])
})

t.test('ship(): a Uint8Array is the event\'s JSON text; one that is not UTF-8 or a Uint16Array is refused; put() copies it', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { stream: 's', exitHooks: false })
  const codes: Array<string | null> = []
  const messages: string[] = []
  const write = async (chunk: unknown): Promise<void> => {
    await new Promise<void>((resolve) => {
      shipper.write(chunk, (err) => {
        codes.push((err as NodeJS.ErrnoException | null)?.code ?? null)
        if (err !== null && err !== undefined) messages.push(err.message)
        resolve()
      })
    })
  }
  await write(encoder.encode('{"seq":1}'))
  await write({ stream: 's', event: encoder.encode('{"seq":2}') })
  await write(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))
  await write(new Uint16Array([0x7b7d]))
  // put() takes the bytes as they are at the call: a caller's reused array ships each event once.
  const line = new Uint8Array(16)
  for (let seq = 3; seq < 5; seq++) {
    line.fill(0x20).set(encoder.encode(`{"seq":${seq}}`))
    shipper.put(line)
  }
  await shipper.flush()
  t.same(codes, [null, null, 'SHOEBOX_INVALID_EVENT', 'SHOEBOX_INVALID_EVENT'])
  t.match(messages[0], /not valid UTF-8/)
  t.match(messages[1], /an event is an object or its JSON text, got a Uint16Array: the bytes of its text come as a Buffer or Uint8Array/)
  t.same(collector.stored.map((e) => e.event.seq), [1, 2, 3, 4])
  t.notOk(collector.stored.some((e) => '0' in e.event), 'no event stored as the bytes\' indices')
  shipper.end()
})
