/**
 * LeadingBom / stripLeadingBom (lib/stream/leading-bom.ts): a UTF-8 byte
 * order mark is dropped only at the very start of the input, however the
 * chunks split it, and every other byte comes out as it went in.
 */
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import t from 'tap'
import { LeadingBom, stripLeadingBom } from '../../lib/stream/leading-bom.js'

const BOM = Buffer.from([0xef, 0xbb, 0xbf])

/** What LeadingBom makes of `chunks`, joined. */
function strip (chunks: Buffer[]): Buffer {
  const bom = new LeadingBom()
  const out: Buffer[] = chunks.map((c) => Buffer.from(bom.strip(c)))
  out.push(bom.end())
  return Buffer.concat(out)
}

/** Every way to cut `input` into three chunks (empty ones included). */
function * threeWay (input: Buffer): Generator<Buffer[]> {
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j++) yield [input.subarray(0, i), input.subarray(i, j), input.subarray(j)]
  }
}

t.test('a mark at the start is dropped, wherever the chunks cut it', async (t) => {
  const text = Buffer.from('{"a":"é"}\n{"b":2}\n')
  const input = Buffer.concat([BOM, text])
  let cuts = 0
  for (const chunks of threeWay(input)) {
    t.same(strip(chunks), text, `cut at ${chunks[0].length}, ${chunks[0].length + chunks[1].length}`)
    cuts++
  }
  t.ok(cuts > 200)
})

t.test('input without a mark comes out byte for byte, however cut', async (t) => {
  // Beginnings that share the mark's first bytes, then differ; and the mark's bytes later on.
  const inputs = [
    Buffer.from('{"a":1}\n'),
    Buffer.from([0xef, 0xbb, 0x41, 0x0a]),
    Buffer.from([0xef, 0x41]),
    Buffer.concat([Buffer.from('x'), BOM, Buffer.from('\n')]),
    Buffer.from('é\uFEFF\n')
  ]
  for (const input of inputs) {
    for (const chunks of threeWay(input)) t.same(strip(chunks), input, `${input.toString('hex')}, cut at ${chunks[0].length}, ${chunks[0].length + chunks[1].length}`)
  }
})

t.test('only the first mark goes: a second one right after it is content', async (t) => {
  const input = Buffer.concat([BOM, BOM, Buffer.from('{}')])
  for (const chunks of threeWay(input)) t.same(strip(chunks), Buffer.concat([BOM, Buffer.from('{}')]))
})

t.test('inputs shorter than a mark: the mark alone is nothing, its start alone is kept', async (t) => {
  t.same(strip([]), Buffer.alloc(0))
  t.same(strip([BOM]), Buffer.alloc(0))
  t.same(strip([BOM.subarray(0, 1), BOM.subarray(1)]), Buffer.alloc(0))
  t.same(strip([BOM.subarray(0, 2)]), BOM.subarray(0, 2))
  t.same(strip([BOM.subarray(0, 1), Buffer.alloc(0), BOM.subarray(1, 2)]), BOM.subarray(0, 2))
})

t.test('held bytes are a copy: a producer reusing its chunk changes nothing', async (t) => {
  const bom = new LeadingBom()
  const reused = Buffer.from([0xef, 0xbb])
  t.equal(bom.strip(reused).length, 0)
  t.equal(bom.decided, false)
  reused.fill(0x41)
  t.same(bom.strip(Buffer.from([0xbf, 0x7b, 0x7d])), Buffer.from('{}'))
  t.equal(bom.decided, true)
})

t.test('stripLeadingBom() as a stage', async (t) => {
  const text = Buffer.from('{"a":1}\n')
  for (const chunks of threeWay(Buffer.concat([BOM, text]))) {
    t.same(await buffer(Readable.from(chunks).pipe(stripLeadingBom())), text)
  }
  t.same(await buffer(Readable.from([BOM.subarray(0, 2)]).pipe(stripLeadingBom())), BOM.subarray(0, 2))
})
