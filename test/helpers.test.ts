import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'
import { encodeRecords, type DecodeOptions } from '../lib/index.js'
import { chunked, chunkedInTurn, chunkIter, cliHungAt, decodeAll, decodeDirect, firstMismatch, haveVectors, repoRoot, splitAt, vectorDir, vectorSkip } from './helpers.js'

t.test('helpers: vector location', async (t) => {
  t.equal(vectorDir, join(dirname(repoRoot), 'shared', 'vectors', 'shoebox'), 'the vectors are looked for beside the repo, under shared/')
  t.equal(haveVectors, existsSync(join(vectorDir, 'manifest.json')), 'haveVectors says whether the manifest is there')
  t.equal(vectorSkip === false, haveVectors, 'vectorSkip is a reason exactly when the vectors are missing')
})
t.test('helpers: chunked(), chunkedInTurn() and splitAt()', async (t) => {
  const buf = Buffer.from('0123456789abcdef')
  for (const size of [1, 3, 5, 16, 100]) {
    const chunks = chunked(buf, size)
    t.equal(chunks.length, Math.ceil(buf.length / size), `size ${size}: chunk count`)
    t.ok(chunks.every((c, i) => c.length === (i < chunks.length - 1 ? size : buf.length - size * (chunks.length - 1))), `size ${size}: chunk lengths`)
    t.ok(Buffer.concat(chunks).equals(buf), `size ${size}: chunks join back to the input`)
    t.same([...chunkIter(buf, size)], chunks, `size ${size}: chunkIter gives the same chunks`)
  }
  t.same(chunked(Buffer.alloc(0), 4), [], 'an empty buffer has no chunks')
  t.same(chunkedInTurn(buf, [1, 2, 3]).map(String), ['0', '12', '345', '6', '78', '9ab', 'c', 'de', 'f'], 'chunkedInTurn(): the sizes in turn, the last view shorter')
  t.same(chunkedInTurn(Buffer.alloc(0), [1, 2]), [], 'chunkedInTurn(): an empty buffer has no chunks')
  t.throws(() => chunkedInTurn(buf, [2, 0]), RangeError, 'chunkedInTurn(): a size 0 is refused')
  t.throws(() => chunkedInTurn(buf, []), RangeError, 'chunkedInTurn(): no sizes is refused')
  t.throws(() => chunked(buf, 0), RangeError, 'size 0 is refused')
  t.same(splitAt(buf, 0).map(String), ['0123456789abcdef'], 'split at 0: one chunk')
  t.same(splitAt(buf, 16).map(String), ['0123456789abcdef'], 'split at the end: one chunk')
  t.same(splitAt(buf, 4).map(String), ['0123', '456789abcdef'], 'split in the middle: two chunks')
})
t.test('helpers: decodeAll() and decodeDirect()', async (t) => {
  const archive = encodeRecords([{ metadata: { a: '1' }, payload: 'x' }, { payload: 'y' }])
  const damaged = Buffer.concat([archive, Buffer.from('garbage')])
  for (const [name, run] of [
    ['decodeAll', (chunks: Buffer[], options?: DecodeOptions) => decodeAll(chunks, options)],
    ['decodeDirect', async (chunks: Buffer[], options?: DecodeOptions) => decodeDirect(chunks, options)]
  ] as const) {
    const ok = await run(chunked(archive, 3))
    t.equal(firstMismatch(ok.records, [
      { pairs: [['a', '1']], payload: Buffer.from('x') }, { pairs: [], payload: Buffer.from('y') }
    ]), undefined, `${name}: records`)
    t.equal(ok.error, undefined, `${name}: no error`)
    const strict = await run([damaged])
    t.equal(strict.records.length, 2, `${name} strict: records before the damage`)
    t.equal((strict.error as { code?: string }).code, 'SHOEBOX_BAD_MAGIC', `${name} strict: the error`)
    const lenient = await run([damaged], { mode: 'lenient' })
    t.match(lenient.corrupt, [{ offset: archive.length, reason: 'bad-magic', bytesSkipped: 7 }], `${name} lenient: the corrupt event`)
  }
  t.notOk(firstMismatch([{ pairs: [['a', 'b']], payload: Buffer.from('p') }], [{ pairs: [['a', 'c']], payload: Buffer.from('p') }]) === undefined,
    'firstMismatch sees a different value')
  t.notOk(firstMismatch([{ pairs: [['a', '1'], ['b', '2']], payload: Buffer.alloc(0) }], [{ pairs: [['b', '2'], ['a', '1']], payload: Buffer.alloc(0) }]) === undefined,
    'firstMismatch sees a different order')
})

t.test('helpers: cliHungAt() fails, rather than waiting for ever, when the child never makes the call it is to hang at', async (t) => {
  // A test whose command no longer makes that call must fail, not pass or time out.
  // One packed file (path, size, sha256 of 'x'), which unpack writes under a temporary name.
  const sha256 = createHash('sha256').update('x').digest('hex')
  const dir = t.testdir({ 'a.shoebox': encodeRecords([{ metadata: { path: 'x.txt', size: '1', sha256 }, payload: 'x' }]) })
  await t.rejects(cliHungAt(t, ['ls', join(dir, '*.shoebox')], { call: 'rename', path: /never-renamed$/ }), { message: /^shoebox ls .* ended \(exit 0\) without reaching its rename of \/never-renamed\$\// })
  const hung = await cliHungAt(t, ['unpack', join(dir, '*.shoebox'), '--out', join(dir, 'out')], { call: 'open', path: /\/\.shoebox-unpack-[^/]*$/, after: true })
  t.ok(hung.pid > 0, 'hung at the call it was told')
  await hung.kill()
})
