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

t.test('a run of chunks with no newline is not held: at most `longest` + 1 bytes (a CR) at any time', async (t) => {
  const stage = new LinesInOneChunk({ longest: 64 * 1024 })
  const out: Buffer[] = []
  stage.on('data', (chunk: Buffer) => out.push(chunk))
  let most = 0
  stage.write(Buffer.from('{"a":1}\n{"b":"'))
  for (let i = 0; i < 4096; i++) {
    stage.write(Buffer.alloc(4096, 120))
    most = Math.max(most, stage.heldBytes)
  }
  t.ok(most <= 64 * 1024 + 1, `held at most ${most} bytes of 16 MiB`)
  t.equal(stage.heldBytes, 0, 'nothing, once the line is known to be too long')
  const ended = new Promise((resolve) => stage.on('end', resolve))
  stage.end(Buffer.from('"}\n{"c":3}\n'))
  await ended
  t.same(Buffer.concat(out).toString().split('\n'), ['{"a":1}', TOO_LONG_LINE, '{"c":3}', ''])
})

t.test('the limit is exact for lines inside one chunk too, a CR before the newline not counted', async (t) => {
  const at = 'x'.repeat(10)
  const over = 'x'.repeat(11)
  const text = `${at}\r\n${over}\n${over}\r\n${at}\n\n${at}\r\r\n${over}`
  const expected = [at + '\r', TOO_LONG_LINE, TOO_LONG_LINE, at, '', TOO_LONG_LINE, TOO_LONG_LINE]
  for (const size of [1, 2, 3, 5, 11, 12, 13, text.length]) {
    const chunks = Array.from({ length: Math.ceil(text.length / size) }, (_, i) => Buffer.from(text.slice(i * size, (i + 1) * size)))
    const out = await through(new LinesInOneChunk({ longest: 10 }), chunks)
    t.same(out.join('').split('\n'), expected, `chunks of ${size}`)
  }
})
