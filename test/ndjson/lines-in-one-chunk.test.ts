import t from 'tap'
import { LinesInOneChunk, TOO_LONG_LINE } from '../../lib/ndjson/lines-in-one-chunk.js'

async function through (stage: LinesInOneChunk, chunks: Buffer[]): Promise<string[]> {
  const out: string[] = []
  stage.on('data', (chunk: Buffer) => out.push(chunk.toString()))
  const ended = new Promise((resolve) => stage.on('end', resolve))
  for (const chunk of chunks) stage.write(chunk)
  stage.end()
  await ended
  return out
}

t.test('each line in one chunk, however the input is cut', async (t) => {
  const out = await through(new LinesInOneChunk(), ['{"a":', '1}\n{"b"', ':2}\n{"c":3}'].map((s) => Buffer.from(s)))
  t.same(out, ['{"a":1}\n', '{"b":2}\n', '{"c":3}'])
})

t.test('a line longer than `longest` is not held: TOO_LONG_LINE in its place, the lines around it kept', async (t) => {
  const piece = Buffer.alloc(1000, 'x')
  const chunks = [Buffer.from('{"a":1}\n')]
  for (let i = 0; i < 50; i++) chunks.push(piece)
  chunks.push(Buffer.from('\n{"b":2}\n'))
  const stage = new LinesInOneChunk({ longest: 10_000 })
  let most = 0
  stage.on('data', (chunk: Buffer) => { most = Math.max(most, chunk.length) })
  const out = await through(stage, chunks)
  t.same(out.join('').split('\n'), ['{"a":1}', TOO_LONG_LINE, '{"b":2}', ''], 'one line for the long one: the numbers after it hold')
  t.ok(most <= 10_000, `no chunk out of ${most} bytes`)

  const unended = await through(new LinesInOneChunk({ longest: 10_000 }), [Buffer.from('{"a":1}\n'), ...Array(20).fill(piece) as Buffer[]])
  t.same(unended.join('').split('\n'), ['{"a":1}', TOO_LONG_LINE], 'a last line without a newline too')

  const within = await through(new LinesInOneChunk({ longest: 10_000 }), [piece, piece, Buffer.from('\n')])
  t.same(within.join(''), 'x'.repeat(2000) + '\n', 'a line within it is passed whole')
})
