import { PassThrough } from 'node:stream'
import t from 'tap'
import { Gate } from '../../lib/cli/stdin-gate.js'

async function drain (gate: Gate): Promise<string> {
  let out = ''
  for await (const chunk of gate) out += (chunk as Buffer).toString()
  return out
}

t.test('a closed gate ends after the last whole line: a line whose end was not read stays out', async (t) => {
  const gate = new Gate()
  const read = drain(gate)
  gate.write(Buffer.from('{"a":1}\n{"b":'))
  await new Promise((resolve) => setImmediate(resolve))
  const stdin = new PassThrough()
  gate.closeAndStop(stdin)
  t.equal(await read, '{"a":1}\n')
  t.equal(gate.heldBytes, 5, 'the partial line is counted')
  t.ok(stdin.destroyed, 'stdin is destroyed once the end has gone out')
})

t.test('at a real end the last line without a newline is a line', async (t) => {
  const gate = new Gate()
  const read = drain(gate)
  gate.end(Buffer.from('{"a":1}\n{"b":2}'))
  t.equal(await read, '{"a":1}\n{"b":2}')
})

t.test('feed(): gzip text through the gate, damage as failure naming stdin, the cut line left out', async (t) => {
  const { gzipSync } = await import('node:zlib')
  const whole = gzipSync(Buffer.from('{"a":1}\n{"b":2}\n'))
  const gate = new Gate()
  const read = drain(gate)
  const stdin = new PassThrough()
  gate.feed(stdin)
  stdin.end(whole)
  t.equal(await read, '{"a":1}\n{"b":2}\n')
  t.equal(gate.failure, null)

  const torn = gzipSync(Buffer.from('{"a":1}\n{"b":2}\n{"c":'.padEnd(70000, 'x')))
  const cut = new Gate()
  const text = drain(cut)
  const input = new PassThrough()
  cut.feed(input)
  input.end(torn.subarray(0, torn.length - 9))
  t.equal(await text, '{"a":1}\n{"b":2}\n', 'the whole lines before the damage, not the one it cut')
  t.match(cut.failure?.message, /^stdin: at byte \d+: bad-compression: gzip data/)
})

t.test('feed() after close: stdin is destroyed and not read', async (t) => {
  const gate = new Gate()
  const read = drain(gate)
  const stdin = new PassThrough()
  gate.closeAndStop(stdin)
  t.equal(await read, '')
  gate.feed(stdin)
  t.ok(stdin.destroyed, 'destroyed, not read')
  t.equal(stdin.readableLength, 0)
})

t.test('closeAndStop() after feed() destroys the text being read, not the stdin under it', async (t) => {
  const gate = new Gate()
  const read = drain(gate)
  const stdin = new PassThrough()
  gate.feed(stdin)
  stdin.write('{"a":1}\n{"b"')
  await new Promise((resolve) => setTimeout(resolve, 20))
  gate.closeAndStop()
  t.equal(await read, '{"a":1}\n')
  t.equal(gate.heldBytes, 4, 'the partial line is counted')
  t.equal(gate.failure, null, 'a stop is no damage')
})

t.test('a partial line past `longest` is passed on as it comes, not held whole to its end', async (t) => {
  const gate = new Gate({ longest: 100 * 1024 })
  let passed = 0
  gate.on('data', (chunk: Buffer) => { passed += chunk.length })
  const piece = Buffer.alloc(64 * 1024, 'x')
  for (let i = 0; i < 16; i++) {
    gate.write(piece)
    t.ok(gate.heldBytes <= 100 * 1024 + piece.length, `held ${gate.heldBytes} bytes after ${i + 1} pieces`)
  }
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(passed >= 16 * piece.length - 100 * 1024 - piece.length, `passed on ${passed} bytes before any newline`)
  const short = new Gate({ longest: 100 * 1024 })
  const read = drain(short)
  short.write(piece)
  short.closeAndStop()
  t.equal(await read, '', 'a partial line within it is held, and left out when the gate closes')
})
