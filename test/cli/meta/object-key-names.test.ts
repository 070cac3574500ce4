/**
 * Metadata keys that are also names of Object.prototype's members
 * (`__proto__`, `constructor`, `toString`, ...) are ordinary keys to mmmeta
 * (Python dicts, SQLite columns). They go through generate, the history,
 * update, the state db, query, get and dump like any other key, on the
 * paths for a first import and for later changes alike.
 */
import t, { type Test } from 'tap'
import { cli, jsonLines } from '../../cli-run.js'
import { metadir } from '../../../lib/meta/metadir.js'

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']

/** One NDJSON line whose keys are NAMES (values `<name>-<tag>`), a nested `__proto__`, and `n`. */
function line (uid: string, tag: string, names = NAMES): string {
  const keys = names.map((name) => `${JSON.stringify(name)}: ${JSON.stringify(`${name}-${tag}`)}`)
  return `{"content_hash": "${uid}", ${keys.join(', ')}, "nested": {"__proto__": "deep-${tag}"}, "n": "${tag}"}\n`
}

async function generate (t: Test, dir: string, ndjson: string): Promise<void> {
  const r = await cli(['meta', 'generate', '--metadir', dir, '--ndjson', '-'], ndjson)
  t.equal(r.code, 0, `generate: ${r.stderr}`)
}

async function update (t: Test, dir: string): Promise<void> {
  const r = await cli(['meta', 'update', '--metadir', dir])
  t.equal(r.code, 0, `update: ${r.stderr}`)
}

async function query (dir: string, ...args: string[]): Promise<Array<Record<string, unknown>>> {
  return jsonLines((await cli(['meta', 'query', '--metadir', dir, ...args])).stdout) as Array<Record<string, unknown>>
}

t.test('prototype member names are kept from generate to query, get and dump', async (t) => {
  const dir = t.testdir({})
  await generate(t, dir, line('a', '1') + line('b', '1'))
  await update(t, dir)

  const rows = await query(dir)
  t.equal(rows.length, 2)
  for (const row of rows) {
    for (const name of NAMES) t.equal(Object.hasOwn(row, name) ? row[name] : '(missing)', `${name}-1`, `${String(row.content_hash)}: ${name}`)
    t.equal(row['nested:__proto__'], 'deep-1')
  }
  t.same((await query(dir, 'constructor=constructor-1')).map((r) => r.content_hash).sort(), ['a', 'b'], 'a filter on constructor')
  t.same((await query(dir, '__proto__=__proto__-1', '--count')), [2], 'a filter on __proto__')

  const got = jsonLines((await cli(['meta', 'get', '--metadir', dir, 'a'])).stdout) as Array<Record<string, unknown>>
  t.equal(got.length, 1)
  t.equal(Object.hasOwn(got[0], '__proto__') ? got[0].__proto__ : '(missing)', '__proto__-1', 'get keeps __proto__')

  // the API's rows too: `row.constructor` is the key's value, and undefined where a row lacks it
  const md = await metadir(dir)
  t.teardown(() => { md.close() })
  const data = md.files.get('a')?.data as Record<string, unknown>
  t.equal(data.constructor, 'constructor-1')
  t.equal(data.__proto__, '__proto__-1')
  t.equal(Object.getPrototypeOf(Object.getPrototypeOf(data)), null, 'no Object.prototype behind a row')
  t.equal(({ ...data }).toString, 'toString-1')

  const dump = (await cli(['meta', 'dump', '--metadir', dir])).stdout.toString()
  const header = dump.split(/\r?\n/)[0].split(',')
  for (const name of NAMES) t.ok(header.includes(name), `dump's header has ${name}`)
})

t.test('changes to such keys on a later generate and update (the general paths)', async (t) => {
  const dir = t.testdir({})
  await generate(t, dir, line('a', '1') + line('b', '1'))
  await update(t, dir)
  // a: every value changed; b: constructor and __proto__ removed (null), the rest kept
  await generate(t, dir, line('a', '2') + line('b', '1', NAMES.filter((n) => n !== 'constructor' && n !== '__proto__')) + line('c', '3'))
  await update(t, dir)

  const byUid = new Map((await query(dir)).map((r) => [r.content_hash, r]))
  t.same([...byUid.keys()].sort(), ['a', 'b', 'c'])
  const a = byUid.get('a') as Record<string, unknown>
  const b = byUid.get('b') as Record<string, unknown>
  const c = byUid.get('c') as Record<string, unknown>
  for (const name of NAMES) {
    t.equal(Object.hasOwn(a, name) ? a[name] : '(missing)', `${name}-2`, `a: ${name} updated`)
    t.equal(Object.hasOwn(c, name) ? c[name] : '(missing)', `${name}-3`, `c: ${name} added`)
  }
  t.equal(Object.hasOwn(b, '__proto__') ? b.__proto__ : '(missing)', null, 'b: __proto__ removed')
  t.equal(b.constructor, null, 'b: constructor removed')
  t.equal(b.toString, 'toString-1', 'b: toString kept')
})

t.test('a JSON array source (streamed) keeps them too', async (t) => {
  const dir = t.testdir({ 'in.json': '[' + line('a', '1').trim() + ',\n' + line('b', '1').trim() + ']' })
  const r = await cli(['meta', 'generate', '--metadir', dir, '--json-array', `${dir}/in.json`])
  t.equal(r.code, 0, `generate: ${r.stderr}`)
  await update(t, dir)
  const rows = await query(dir)
  t.equal(rows.length, 2)
  for (const row of rows) {
    for (const name of NAMES) t.equal(Object.hasOwn(row, name) ? row[name] : '(missing)', `${name}-1`, `${String(row.content_hash)}: ${name}`)
    t.equal(row['nested:__proto__'], 'deep-1', 'a nested object is flattened')
  }
})
