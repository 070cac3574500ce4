/** The put body built in place: pykronos's bytes, event texts as they are, at every growth step. */
import t from 'tap'
import { BatchBody } from '../../lib/events/ship-body.js'

function joined (stream: string, texts: string[], namespace?: string): string {
  const ns = namespace === undefined ? '' : `, "namespace": ${JSON.stringify(namespace)}`
  return `{"events": {${JSON.stringify(stream)}: [${texts.join(', ')}]}${ns}}`
}

t.test('the body equals the joined texts for any count, through every doubling (ASCII, multi-byte, astral, lone surrogates)', async (t) => {
  const samples = ['{"a":2.0}', '{"n":12345678901234567890}', '{"é":"ü","k":"日本語"}', '{"e":"😀"}', '{"s":"\ud800"}', `{"big":"${'z'.repeat(5000)}"}`]
  for (const n of [0, 1, 2, 3, 7, 50, 400]) {
    const body = new BatchBody('web.click', n % 2 === 0 ? undefined : 'ns')
    const texts: string[] = []
    let bytes = 0
    for (let i = 0; i < n; i++) {
      const text = samples[i % samples.length]
      texts.push(text)
      bytes += body.append(text)
    }
    t.equal(bytes, Buffer.byteLength(texts.join('')), `${n} events: append() returns UTF-8 lengths`)
    for (let i = 0; i < n; i++) if (body.text(i) !== Buffer.from(texts[i]).toString()) t.fail(`${n} events: text(${i})`)
    t.equal(body.seal().toString(), Buffer.from(joined('web.click', texts, n % 2 === 0 ? undefined : 'ns')).toString(), `${n} events: the body`)
    t.equal(body.seal().length, Buffer.byteLength(joined('web.click', texts, n % 2 === 0 ? undefined : 'ns')), 'seal() twice: one suffix')
  }
})

t.test('removeLast / appendBytes move an event intact; sealed bodies take no more', async (t) => {
  const a = new BatchBody('s', undefined)
  a.append('{"x":1}')
  a.append('{"y":"ü"}')
  const b = new BatchBody('s', 'n')
  t.equal(b.appendBytes(a.removeLast()), 10)
  t.equal(a.seal().toString(), '{"events": {"s": [{"x":1}]}}')
  t.equal(b.seal().toString(), '{"events": {"s": [{"y":"ü"}]}, "namespace": "n"}')
  t.throws(() => a.append('{}'), /sealed/)
  const one = new BatchBody('s', undefined)
  one.append('{}')
  one.removeLast()
  t.equal(one.seal().toString(), '{"events": {"s": []}}')
})

t.test('a tail replaces the closing brace; text() and the body agree; a capacity reserves at once', async (t) => {
  const body = new BatchBody('s', undefined, 100_000)
  t.equal(body.append('{"a":"ü"}', ', "@library": "é"}'), Buffer.byteLength('{"a":"ü", "@library": "é"}'))
  t.equal(body.append('{}', '"@time": 5}'), Buffer.byteLength('{"@time": 5}'))
  body.append('{"b":2}')
  t.same([0, 1, 2].map((i) => body.text(i)), ['{"a":"ü", "@library": "é"}', '{"@time": 5}', '{"b":2}'])
  const sealed = body.seal()
  t.equal(sealed.toString(), '{"events": {"s": [{"a":"ü", "@library": "é"}, {"@time": 5}, {"b":2}]}}')
  t.ok(sealed.buffer.byteLength >= 100_000, 'the capacity given is reserved')
})

t.test('a huge event (8 MiB) goes in intact without reserving 3x its length', async (t) => {
  const body = new BatchBody('s', undefined)
  const text = `{"blob":"${'q'.repeat(8 * 1024 * 1024)}"}`
  t.equal(body.append(text), text.length)
  const sealed = body.seal()
  t.equal(sealed.length, text.length + '{"events": {"s": []}}'.length)
  t.ok(sealed.buffer.byteLength < 2 * text.length, 'the buffer is not sized at 3 bytes per character')
  t.equal(body.text(0), text)
})
