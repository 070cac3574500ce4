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
