/**
 * ByteNames (lib/store/byte-names.ts): listings that walk at once, settled in
 * any order, leave each key as the listing numbered last that covered it saw
 * it. (file-store-walk.test.ts runs the same through FileStore.list.)
 */
import t from 'tap'
import { ByteNames } from '../../lib/store/byte-names.js'

const bytes = (name: string): Buffer => Buffer.from(name, 'latin1')
const everything = (): boolean => true
const only = (...keys: string[]) => (key: string): boolean => keys.includes(key)

t.test('an older listing settled last changes none of the keys a newer one decided', async (t) => {
  const names = new ByteNames()
  const older = names.begin()
  const newer = names.begin()
  names.settle(newer, everything, new Map([['a\uFFFD', bytes('a\xfe')]]))
  names.settle(older, everything, new Map([['a\uFFFD', bytes('a\xff')], ['b\uFFFD', bytes('b\xff')]]))
  t.same(names.get('a\uFFFD'), bytes('a\xfe'), 'found by both: as the newer found it')
  t.equal(names.get('b\uFFFD'), undefined, 'found by the older only: the newer saw it gone')
})

t.test('what a newer listing did not cover, the older one still decides', async (t) => {
  const names = new ByteNames()
  const wide = names.begin()
  const narrow = names.begin() // a fetch's listing of one key
  names.settle(narrow, only('a\uFFFD'), new Map([['a\uFFFD', bytes('a\xfe')]]))
  names.settle(wide, everything, new Map([['a\uFFFD', bytes('a\xff')], ['b\uFFFD', bytes('b\xff')]]))
  t.same(names.get('a\uFFFD'), bytes('a\xfe'))
  t.same(names.get('b\uFFFD'), bytes('b\xff'))
  // Once nothing older walks, a listing decides every key it covers again.
  const next = names.begin()
  names.settle(next, everything, new Map())
  t.equal(names.get('a\uFFFD'), undefined)
  t.equal(names.get('b\uFFFD'), undefined)
})

t.test('a listing that failed decides nothing; a later one forgets only what it covers', async (t) => {
  const names = new ByteNames()
  const first = names.begin()
  names.settle(first, everything, new Map([['a\uFFFD', bytes('a\xff')], ['d/b\uFFFD', bytes('d/b\xff')]]))
  const failed = names.begin()
  names.abandon(failed)
  t.same(names.get('a\uFFFD'), bytes('a\xff'))
  const inD = names.begin()
  names.settle(inD, (key) => key.startsWith('d/'), new Map())
  t.same(names.get('a\uFFFD'), bytes('a\xff'), 'outside its prefix: kept')
  t.equal(names.get('d/b\uFFFD'), undefined, 'inside it and not found: forgotten')
})
