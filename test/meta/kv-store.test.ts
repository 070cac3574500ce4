/**
 * The typed key-value store in `_mmmeta/_store/`: values written as mmmeta
 * writes them (str(value)), read back with the type they were written with,
 * mmmeta-written files read as strings unless a type is named, keys checked
 * and listed whole, timestamps in UTC.
 */
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { MetaStore } from '../../lib/meta/kv-store.js'
import { expectCode } from '../helpers.js'

function store (t: Test): { store: MetaStore, dir: string } {
  const dir = t.testdir({ _mmmeta: {} })
  return { store: new MetaStore(path.join(dir, '_mmmeta')), dir: path.join(dir, '_mmmeta') }
}

t.test('each type round-trips and is written as mmmeta writes it', async (t) => {
  const { store: s, dir } = store(t)
  const when = new Date('2026-12-03T10:45:01.250Z')
  const values: Array<[string, unknown, string]> = [
    ['name', '0012', '0012'],
    ['count', 0, '0'],
    ['big', 9007199254740993n, '9007199254740993'],
    ['ratio', 1, '1.0'],
    ['inf', Infinity, 'inf'],
    ['flag', false, 'False'],
    ['when', when, '2026-12-03T10:45:01.250000'],
    ['doc', { a: [1, 'ü'] }, '{"a":[1,"ü"]}'],
    ['empty', '', '']
  ]
  await s.set('name', '0012')
  await s.set('count', 0)
  await s.set('big', 9007199254740993n)
  await s.set('ratio', 1, 'float')
  await s.set('inf', Infinity)
  await s.set('flag', false)
  await s.set('when', when)
  await s.set('doc', { a: [1, 'ü'] })
  await s.set('empty', '')
  for (const [key, value, text] of values) {
    t.equal(fs.readFileSync(path.join(dir, '_store', key), 'utf8'), text, `${key} on disk`)
    t.same(await s.get(key), value, `${key} read back`)
  }
  t.ok((await s.get('when')) instanceof Date)
  t.same(await s.keys(), ['big', 'count', 'doc', 'empty', 'flag', 'inf', 'name', 'ratio', 'store_last_updated', 'when'])
  t.ok((await s.get('store_last_updated')) instanceof Date, 'a set touches store_last_updated')
})

t.test('files mmmeta wrote are strings unless a type is named; naive times are UTC', async (t) => {
  const { store: s, dir } = store(t)
  fs.mkdirSync(path.join(dir, '_store'))
  fs.writeFileSync(path.join(dir, '_store', 'meta_last_updated'), '2026-11-22T12:17:55.295840')
  fs.writeFileSync(path.join(dir, '_store', 'n'), ' 0012\n')
  t.equal(await s.get('n'), '0012')
  t.equal(await s.get('n', 'int'), 12)
  t.equal(await s.get('meta_last_updated'), '2026-11-22T12:17:55.295840')
  t.same(await s.get('meta_last_updated', 'timestamp'), new Date('2026-11-22T12:17:55.295Z'))
  t.equal(await s.get('missing'), undefined)
  await expectCode(t, s.get('n', 'bool'), 'SHOEBOX_META_VALUE', 'a value that is not of the named type')
})

t.test('a time given as text is UTC without a zone, whatever the machine\'s zone, and keeps its microseconds', async (t) => {
  const { store: s, dir } = store(t)
  const tz = process.env.TZ
  process.env.TZ = 'Europe/Berlin' // new Date('2024-05-09T10:00:00') is 08:00Z here
  t.teardown(() => {
    if (tz === undefined) delete process.env.TZ
    else process.env.TZ = tz
  })
  await s.set('naive', '2024-05-09T10:00:00', 'timestamp')
  await s.set('spaced', '2024-05-09 10:00:00', 'timestamp')
  await s.set('micros', '2024-05-09T12:00:00.123456+02:00', 'timestamp')
  t.equal(fs.readFileSync(path.join(dir, '_store', 'naive'), 'utf8'), '2024-05-09T10:00:00.000000')
  t.equal(fs.readFileSync(path.join(dir, '_store', 'spaced'), 'utf8'), '2024-05-09T10:00:00.000000')
  t.equal(fs.readFileSync(path.join(dir, '_store', 'micros'), 'utf8'), '2024-05-09T10:00:00.123456')
  t.same(await s.get('naive'), new Date('2024-05-09T10:00:00Z'))
  await t.rejects(s.set('bad', '2024-02-30T10:00:00', 'timestamp'), { code: 'SHOEBOX_META_VALUE' }, 'a day out of range is no time')
})

t.test('floats are written as Python 3 str() writes them, so a file reads the same to mmmeta and shoebox', async (t) => {
  const { store: s, dir } = store(t)
  const cases: Array<[string, number, string]> = [['tiny', 1e-7, '1e-07'], ['huge', 1e16, '1e+16'], ['negzero', -0, '-0.0'], ['small', 0.0001, '0.0001'], ['exp', 1.5e-5, '1.5e-05'], ['third', 1 / 3, '0.3333333333333333']]
  for (const [key, value, written] of cases) {
    await s.set(key, value, 'float')
    t.equal(fs.readFileSync(path.join(dir, '_store', key), 'utf8'), written, `${key}: ${written}`)
    t.ok(Object.is(await s.get(key), value), `${key} reads back`)
  }
})

t.test('touch writes now in UTC to the key and store_last_updated', async (t) => {
  const { store: s, dir } = store(t)
  const before = Date.now()
  const at = await s.touch('state_last_updated')
  const read = await s.get('state_last_updated') as Date
  t.equal(read.getTime(), at.getTime())
  t.ok(at.getTime() >= before)
  t.equal(fs.readFileSync(path.join(dir, '_store', 'store_last_updated'), 'utf8'), at.toISOString().replace('Z', '000'))
})

t.test('a time outside the years 1 to 9999 is refused, not written as text get() then refuses', async (t) => {
  const { store: s, dir } = store(t)
  // set() wrote '+010000-01-01T00:00:00.000000' and get() failed on it ('is not an ISO 8601 timestamp') until the key was deleted.
  for (const when of [new Date('+010000-01-01T00:00:00Z'), new Date('-000001-01-01T00:00:00Z'), new Date('0000-06-01T00:00:00Z')]) {
    const err = await expectCode(t, s.set('far', when), 'SHOEBOX_META_VALUE', `${when.toISOString()} refused`)
    t.match(err?.message, /outside the years 1 to 9999/)
    await expectCode(t, s.touch('far', when), 'SHOEBOX_META_VALUE', 'touch() with it too')
  }
  await expectCode(t, s.touch('far', new Date('x')), 'SHOEBOX_META_VALUE', 'an invalid Date (a RangeError before)')
  t.notOk(fs.existsSync(path.join(dir, '_store', 'far')), 'nothing written')
  await s.set('far', new Date('9999-12-31T23:59:59.999Z'))
  t.same(await s.get('far'), new Date('9999-12-31T23:59:59.999Z'), 'the last millisecond of 9999 round-trips')
})

t.test('keys are checked, dots are listed whole, delete removes', async (t) => {
  const { store: s } = store(t)
  for (const bad of ['', 'a/b', '..', '.', '.hidden', 'a\\b', 'a\0b']) {
    await expectCode(t, s.set(bad, 1), 'SHOEBOX_BAD_KEY', `refuses ${JSON.stringify(bad)}`)
  }
  await s.set('a.b', 'x')
  await s.set('a.b.c', 'y')
  t.same((await s.keys()).filter((k) => k.startsWith('a')), ['a.b', 'a.b.c'])
  t.equal(await s.get('a.b'), 'x')
  await s.delete('a.b')
  await s.delete('never-there')
  t.equal(await s.get('a.b'), undefined)
  t.same(await s.entries(), [['a.b.c', 'y'], ['store_last_updated', await s.get('store_last_updated')]])
  await expectCode(t, s.set('x', null), 'SHOEBOX_META_VALUE', 'null is no value')
  await expectCode(t, s.set('x', 'soon', 'timestamp'), 'SHOEBOX_META_VALUE', 'a timestamp must be one')
})

t.test('an empty or missing store lists nothing', async (t) => {
  const { store: s } = store(t)
  t.same(await s.keys(), [])
  t.same(await s.entries(), [])
})

t.test('a value that is not UTF-8 (mmmeta on a cp1252 machine) is refused naming the file and byte, not read with U+FFFD', async (t) => {
  const { store: s, dir } = store(t)
  fs.mkdirSync(path.join(dir, '_store'))
  const file = path.join(dir, '_store', 'place')
  fs.writeFileSync(file, Buffer.from('caf\xe9', 'latin1'))
  const err = await expectCode(t, s.get('place'), 'SHOEBOX_META_VALUE', 'it read back as "caf\\uFFFD"')
  t.equal(err?.message, `${file}: not UTF-8 at byte 3; not read`)
  fs.writeFileSync(file, 'café')
  t.equal(await s.get('place'), 'café', 'UTF-8 is read')
})
