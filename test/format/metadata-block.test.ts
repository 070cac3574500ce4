/**
 * lib/format/metadata-block.ts, the one module that knows the metadata
 * block's layout: what it writes, lays out (for the deferred-text path) and
 * measures agrees with what it reads, for both versions, ASCII or not.
 */
import t from 'tap'
import {
  layoutFlatMetadata, layoutObjectMetadata, measureFlat, measureMetadata, metadataBytes, metadataStringsAt,
  readMetadata, splitLaidOut, writeMetadata, writeObjectMetadata, type MetadataSize
} from '../../lib/format/metadata-block.js'
import { ArchiveEncoder, type EncoderOptions } from '../../lib/index.js'

const cases: Array<[string, Record<string, string>]> = [
  ['empty', {}],
  ['short ASCII', { a: 'b' }],
  ['long ASCII', { event: 'compute.instance.create.end', tenant: 'x'.repeat(300), host: 'compute-01' }],
  ['not ASCII', { 'clé': 'zoë ☃', emoji: '😀😀', plain: 'ok' }],
  ['empty strings', { '': '', k: '' }]
]

const flatOf = (m: Record<string, string>): string[] => Object.entries(m).flat()

for (const [name, metadata] of cases) {
  t.test(`${name}: written blocks read back, and their exact size is metadataBytes`, async (t) => {
    const flat = flatOf(metadata)
    for (const version of [1, 2] as const) {
      const size: MetadataSize = { pairs: 0, chars: 0, bound: 0 }
      measureMetadata(metadata, size)
      const buf = Buffer.alloc(16 + size.bound)
      const end = writeObjectMetadata(buf, 8, metadata, size, version)
      t.same(readMetadata(buf, 8, end, version, true), metadata, `v${version} object`)
      t.equal(end - 8, metadataBytes(metadata, flat, size), `v${version} object: metadataBytes is the size written`)
      t.equal(buf.readUInt32LE(8), version === 1 ? 4 * size.pairs : size.pairs, `v${version}: the count field`)

      const flatSize = measureFlat(flat, flat.length, { pairs: 0, chars: 0, bound: 0 })
      t.same(flatSize, size, `v${version}: measureFlat agrees with measureMetadata`)
      const buf2 = Buffer.alloc(16 + flatSize.bound)
      const end2 = writeMetadata(buf2, 8, flat, version)
      t.ok(buf2.subarray(8, end2).equals(buf.subarray(8, end)), `v${version}: flat and object give the same bytes`)
      t.equal(end2 - 8, metadataBytes(null, flat, flatSize), `v${version} flat: metadataBytes is the size written`)
      t.ok(flatSize.bound >= end2 - 8, `v${version}: the bound holds`)
    }
  })

  t.test(`${name}: a laid-out block (strings deferred) splits back into its strings`, async (t) => {
    const flat = flatOf(metadata)
    const size: MetadataSize = { pairs: 0, chars: 0, bound: 0 }
    measureMetadata(metadata, size)
    const buf = Buffer.alloc(16 + size.bound)
    const textObj = layoutObjectMetadata(buf, 4, metadata, size, 2)
    t.equal(textObj, flat.join(''))
    const buf2 = Buffer.alloc(16 + size.bound)
    const textFlat = layoutFlatMetadata(buf2, 4, flat, flat.length, 2)
    t.equal(textFlat, textObj)
    t.ok(buf2.subarray(0, metadataStringsAt(4, size.pairs)).equals(buf.subarray(0, metadataStringsAt(4, size.pairs))), 'same count and table')
    // Two blocks' text back to back, as relayout.ts gets it for a slab.
    const text = 'prefix' + textObj + textObj
    const out: string[] = []
    const next = splitLaidOut(buf, 4, text, 6, out)
    t.same(out, flat)
    t.equal(next, 6 + textObj.length, 'where the next block\'s strings start')
    t.same((splitLaidOut(buf2, 4, text, next, out), out), flat)
  })
}

t.test('exactSizes is not an encoder option: the rolling sink sets it as an internal', async (t) => {
  // @ts-expect-error exactSizes is internal (EncoderInternals), not part of EncoderOptions
  const options: EncoderOptions = { exactSizes: true }
  t.ok(options)
  const sized = new ArchiveEncoder({}, { exactSizes: true })
  sized.write({ metadata: { k: 'é' }, payload: 'x' })
  t.equal(sized.pendingBytes, sized.take()[0].length, 'with the internal setting, pendingBytes is the final size')
})
