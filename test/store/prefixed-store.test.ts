/**
 * prefixedStore(): a folder of a store seen as a store of its own (the
 * sealed-file uploader writes a collector's runs through one).
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { openStore } from '../../lib/store/open-store.js'
import { prefixedStore } from '../../lib/store/prefixed-store.js'

async function text (stream: AsyncIterable<unknown>): Promise<string> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(chunk as Buffer)
  return Buffer.concat(parts).toString('utf8')
}

t.test('keys go under the prefix and come back without it', async (t) => {
  const dir = t.testdir()
  const store = openStore(dir)
  const runs = prefixedStore(store, 'runs/c1/')
  t.equal(runs.url, `${store.url.replace(/\/+$/, '')}/runs/c1`)
  t.equal((await runs.put('1.shoebox', 'ünï')).key, '1.shoebox')
  await new Promise<void>((resolve, reject) => { runs.writer('2.shoebox').on('error', reject).on('finish', resolve).end('two') })
  await store.put('runs/c2/1.shoebox', 'other collector')
  await store.put('index/c1.json', '{}')
  t.equal(fs.readFileSync(path.join(dir, 'runs', 'c1', '1.shoebox'), 'utf8'), 'ünï', 'stored under the prefix')
  t.equal(await text(runs.get('2.shoebox')), 'two')
  t.equal(await text(runs.get('2.shoebox', { range: { start: 1 } })), 'wo', 'a ranged read')
  const listed: string[] = []
  for await (const info of runs.list()) listed.push(info.key)
  t.same(listed, ['1.shoebox', '2.shoebox'], 'only the folder, keys without the prefix')
  fs.mkdirSync(path.join(dir, 'runs', 'c1', 'deep'))
  fs.writeFileSync(path.join(dir, 'runs', 'c1', 'deep', '3.shoebox'), 'deeper')
  const asked: string[] = []
  const wanted: string[] = []
  for await (const info of runs.list('', { depth: 1, want: (key) => { asked.push(key); return key !== '1.shoebox' } })) wanted.push(info.key)
  t.same(wanted, ['2.shoebox'], 'depth and want: counted and asked in the view\'s own keys')
  t.same(asked.sort(), ['1.shoebox', '2.shoebox'])
  fs.rmSync(path.join(dir, 'runs', 'c1', 'deep'), { recursive: true })
  t.equal((await runs.stat('2.shoebox')).key, '2.shoebox')
  t.equal((await runs.stat('2.shoebox')).size, 3)
  t.equal(await runs.exists('1.shoebox'), true)
  await runs.delete('1.shoebox')
  t.equal(await runs.exists('1.shoebox'), false)
  t.equal(await store.exists('runs/c2/1.shoebox'), true, 'the other folder is untouched')
  await runs.close()
  t.equal(await store.exists('index/c1.json'), true, 'closing the view leaves the store open')
  await store.close()
})

t.test('a prefix that is no folder is refused', async (t) => {
  const store = openStore(t.testdir())
  for (const bad of ['', '/', 'a//b', '../x', 'a/./b']) t.throws(() => prefixedStore(store, bad), { code: 'SHOEBOX_USAGE' }, JSON.stringify(bad))
})
