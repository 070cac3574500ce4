/**
 * The consumer's `shoebox meta` subcommands end to end, in-process:
 * update, inspect, query, get, store, push and pull over a metadir whose
 * history is written by hand as mmmeta writes it; --json output, the MMMETA
 * variable, and usage errors (exit 2) vs missing data (exit 1).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { cli, jsonLines } from '../../cli-run.js'
import { metadir } from '../../../lib/meta/metadir.js'

const CONFIG = `metadata:
  unique: content_hash
  file_name: _file_name
  types: { pages: int, retrieved_at: timestamp, public: bool }
  index: [document_type]
remote:
  url: https://bucket.example/{_file_name}
`
const HISTORY = 'content_hash,_file_name,document_type,pages,retrieved_at,public,__meta_added,__meta_last_updated\r\n' +
  'a1,a1.pdf,contract,0012,2026-11-20T10:00:00,true,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n' +
  'b2,b2.pdf,letter,0,2026-11-28T10:00:00,false,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n' +
  '0012,0012.pdf,contract,,,,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n'

function base (t: Test): string {
  return t.testdir({ _mmmeta: { 'config.yml': CONFIG, db: { '2026-11-22T12:17:55.295840.append': HISTORY } } })
}

t.test('update, inspect, query, get', async (t) => {
  const dir = base(t)
  const update = await cli(['meta', 'update', '--metadir', dir])
  t.equal(update.stderr, '')
  t.equal(update.stdout.toString(), 'added 3, updated 0, deleted 0, skipped 0, invalid 0\n')
  t.same(jsonLines((await cli(['meta', 'update', '--metadir', dir, '--json'])).stdout), [{ added: 0, updated: 0, deleted: 0, skipped: 3, invalid: 0, dropped: [] }])

  const inspect = (await cli(['meta', 'inspect', '--metadir', dir])).stdout.toString().split('\n')
  t.same(inspect.slice(0, 2), ['files: 3', `path: ${path.join(dir, '_mmmeta')}`])
  t.match(inspect[2], /^state_last_updated: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/)

  const rows = jsonLines((await cli(['meta', 'query', '--metadir', dir, 'document_type=contract'])).stdout) as Array<Record<string, unknown>>
  t.same(rows.map((r) => [r.content_hash, r.pages, r.public]), [['a1', 12, true], ['0012', null, null]], '"0012" is a key; pages typed int')
  const ordered = jsonLines((await cli(['meta', 'query', '--metadir', dir, '--order', 'content_hash', '--limit', '2'])).stdout) as Array<Record<string, unknown>>
  t.same(ordered.map((r) => r.content_hash), ['0012', 'a1'])
  const noColumn = await cli(['meta', 'query', '--metadir', dir, '--order', 'nope'])
  t.equal(noColumn.code, 2)
  t.match(noColumn.stderr.toString(), /^shoebox meta query: --order: no column 'nope' in \S+state\.db\n/, 'the flag the user typed, not the API\'s orderBy')
  t.same(jsonLines((await cli(['meta', 'query', '--metadir', dir, 'retrieved_at>=2026-11-21', 'public=false'])).stdout).map((r) => (r as { content_hash: string }).content_hash), ['b2'])
  t.same(jsonLines((await cli(['meta', 'query', '--metadir', dir, '--null', 'pages'])).stdout).map((r) => (r as { content_hash: string }).content_hash), ['0012'])
  t.equal((await cli(['meta', 'query', '--metadir', dir, '--count', 'document_type~con%'])).stdout.toString(), '2\n')
  t.equal((await cli(['meta', 'query', '--metadir', dir, '--count', '--limit', '1'])).stdout.toString(), '3\n')

  const got = jsonLines((await cli(['meta', 'get', '--metadir', dir, 'a1'])).stdout) as Array<Record<string, unknown>>
  t.same([got[0].retrieved_at, got[0].remote], ['2026-11-20T10:00:00.000Z', { url: 'https://bucket.example/a1.pdf' }])
  const missing = await cli(['meta', 'get', '--metadir', dir, 'a1', 'nope'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^shoebox meta get: not in .*state\.db: nope\n$/)
  t.equal(jsonLines(missing.stdout).length, 1, 'the rows found are printed first')

  for (const args of [['query', 'pages>many'], ['query', 'bad'], ['update', 'extra'], ['get'], ['store', '--type', 'nope', 'k', 'v']]) {
    const r = await cli(['meta', ...args, '--metadir', dir])
    t.equal(r.code, 2, `usage error: ${args.join(' ')}`)
  }
  // A condition that is none, quoted as typed (givenValue(), as every option value is).
  const bad = await cli(['meta', 'query', 'bad', '--metadir', dir])
  t.equal(bad.stderr, "shoebox meta query: a condition must be KEY OP VALUE (OP one of = != < <= > >= ~), got \"bad\"\n(try 'shoebox meta query --help')\n")
})

t.test('query: a timestamp condition is compared to the microsecond, in any zone form (it went through a Date: .295841 was .295000)', async (t) => {
  const dir = base(t)
  await cli(['meta', 'update', '--metadir', dir])
  const count = async (condition: string): Promise<string> => (await cli(['meta', 'query', '--metadir', dir, '--count', condition])).stdout.toString().trim()
  // Every row's __meta_added is 2026-11-22 12:17:55.295840.
  t.equal(await count('__meta_added<2026-11-22T12:17:55.295841'), '3', 'before a microsecond later')
  t.equal(await count('__meta_added<2026-11-22 12:17:55.295841Z'), '3')
  t.equal(await count('__meta_added<=2026-11-22T13:17:55.295841+01:00'), '3', 'an offset, to the microsecond')
  t.equal(await count('__meta_added>2026-11-22T12:17:55.295839'), '3', 'after a microsecond before')
  t.equal(await count('__meta_added>2026-11-22T12:17:55.2958'), '3', '.2958 is .295800')
  t.equal(await count('__meta_added=2026-11-22T12:17:55.295840'), '3')
  t.equal(await count('__meta_added=2026-11-22T12:17:55.295'), '0', 'not equal to its millisecond')
  t.equal(await count('__meta_added>=2026-11-22T12:17:55.295841'), '0')
})

t.test('store: set typed, get, list, touch, delete; MMMETA names the metadir', async (t) => {
  const dir = base(t)
  const saved = process.env.MMMETA
  process.env.MMMETA = dir
  t.teardown(() => { if (saved === undefined) delete process.env.MMMETA; else process.env.MMMETA = saved })
  t.equal((await cli(['meta', 'store', 'n', '0012'])).code, 0)
  t.equal((await cli(['meta', 'store', 'count', '7', '--type', 'int'])).code, 0)
  t.equal((await cli(['meta', 'store', 'n'])).stdout.toString(), '0012\n')
  t.equal((await cli(['meta', 'store', 'count', '--json'])).stdout.toString(), '7\n')
  t.match((await cli(['meta', 'store', '--touch', 'local_last_updated'])).stdout.toString(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\n$/)
  const listed = (await cli(['meta', 'store'])).stdout.toString()
  t.match(listed, /^count: 7\nlocal_last_updated: .*\nn: 0012\nstore_last_updated: .*\n$/)
  t.equal((await cli(['meta', 'store', '--delete', 'n'])).code, 0)
  const gone = await cli(['meta', 'store', 'n'])
  t.same([gone.code, gone.stderr], [1, `shoebox meta store: no store key n in ${path.join(dir, '_mmmeta')}\n`], 'a missing key is one line and exit 1')
  t.equal(fs.readFileSync(path.join(dir, '_mmmeta', '_store', 'count'), 'utf8'), '7')
})

t.test('get: a row its remote template cannot be rendered for is printed without "remote", and stderr says why', async (t) => {
  const dir = base(t)
  fs.writeFileSync(path.join(dir, '_mmmeta', 'config.yml'), CONFIG.replace('{_file_name}', '{_file_name}?pages={pages}'))
  t.equal((await cli(['meta', 'update', '--metadir', dir])).code, 0)
  const got = await cli(['meta', 'get', '--metadir', dir, 'a1', '0012'])
  t.equal(got.code, 0)
  const rows = jsonLines(got.stdout) as Array<Record<string, unknown>>
  t.same(rows.map((r) => r.remote), [{ url: 'https://bucket.example/a1.pdf?pages=12' }, undefined])
  t.match(got.stderr.toString(), /^shoebox meta get: 0012: remote\.url "https:\/\/bucket\.example\/\{_file_name\}\?pages=\{pages\}": the row has no value for \{pages\}; printed without "remote"\n$/)
})

t.test('store list and inspect: a key with a control character is one line, escaped', async (t) => {
  // A key is a file name in _store/: one holding a newline (or an escape sequence) printed as two lines,
  // the second passing for another key's entry.
  const dir = base(t)
  const key = 'a\nstore_last_updated: 1999-01-01\x1b[31m'
  t.equal((await cli(['meta', 'store', '--metadir', dir, 'set', key, 'x'])).code, 0)
  const listed = (await cli(['meta', 'store', '--metadir', dir, 'list'])).stdout.toString()
  t.match(listed, /^a\\nstore_last_updated: 1999-01-01\\x1b\[31m: x\nstore_last_updated: \d{4}-.*\n$/)
  const inspected = (await cli(['meta', 'inspect', '--metadir', dir])).stdout.toString()
  t.match(inspected, /\na\\nstore_last_updated: 1999-01-01\\x1b\[31m: x\n/)
  t.equal(inspected.split('\n').filter((l) => l.startsWith('store_last_updated')).length, 1, 'one store_last_updated line')
})

t.test('store and inspect print a timestamp to the microsecond, as stored (and as mmmeta inspect prints it)', async (t) => {
  const dir = base(t)
  t.equal((await cli(['meta', 'store', '--metadir', dir, 'set', 'seen', '2026-11-22T12:17:55.295840Z', '--type', 'timestamp'])).code, 0)
  t.equal(fs.readFileSync(path.join(dir, '_mmmeta', '_store', 'seen'), 'utf8'), '2026-11-22T12:17:55.295840', 'set keeps the microseconds')
  t.equal((await cli(['meta', 'store', '--metadir', dir, 'get', 'seen'])).stdout.toString(), '2026-11-22 12:17:55.295840\n')
  t.match((await cli(['meta', 'store', '--metadir', dir, 'list'])).stdout.toString(), /^seen: 2026-11-22 12:17:55\.295840\n/)
  t.match((await cli(['meta', 'inspect', '--metadir', dir])).stdout.toString(), /\nseen: 2026-11-22 12:17:55\.295840\n/)
  const m = await metadir(dir)
  await m.store.touchText('meta_last_updated', '2026-11-23T01:02:03.456789')
  m.close()
  t.match((await cli(['meta', 'inspect', '--metadir', dir])).stdout.toString(), /\nmeta_last_updated: 2026-11-23 01:02:03\.456789\n/, 'what generate wrote')
})

t.test('store list | get KEY | set KEY VALUE | touch KEY | delete KEY: the summary\'s words are actions, never keys', async (t) => {
  const dir = base(t)
  const store = (...args: string[]): ReturnType<typeof cli> => cli(['meta', 'store', '--metadir', dir, ...args])
  t.equal((await store('set', 'k', '41', '--type', 'int')).code, 0)
  t.equal((await store('get', 'k', '--json')).stdout.toString(), '41\n', 'get KEY reads it (it used to set a key named get)')
  t.match((await store('touch', 't')).stdout.toString(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\n$/)
  t.match((await store('list')).stdout.toString(), /^k: 41\nstore_last_updated: .*\nt: .*\n$/)
  t.equal((await store('delete', 'k')).code, 0)
  t.equal((await store('get', 'k')).code, 1)
  t.equal((await store('set', 'get', 'x')).code, 0, 'a key named like an action goes through the action')
  t.equal((await store('get', 'get')).stdout.toString(), 'x\n')
  t.same(fs.readdirSync(path.join(dir, '_mmmeta', '_store')).sort(), ['get', 'store_last_updated', 't'], 'no key named get/set/list was made by mistake')
  for (const args of [['get'], ['set', 'k'], ['list', 'x'], ['delete', 'a', 'b'], ['touch', 'k', '--delete']]) {
    const r = await store(...args)
    t.equal(r.code, 2, args.join(' '))
    // The command is named once, by the prefix ('shoebox meta store: meta store get: ...' named it twice).
    t.match(r.stderr, /^shoebox meta store: (?!meta store)\S.+\n\(try 'shoebox meta store --help'\)\n$/, args.join(' '))
  }
})

t.test('push and pull through a file:// store', async (t) => {
  const dir = base(t)
  const target = fs.mkdtempSync(path.join(dir, 'bucket-'))
  const consumer = fs.mkdtempSync(path.join(dir, 'consumer-'))
  const push = await cli(['meta', 'push', `file://${target}`, '--metadir', dir])
  t.equal(push.stdout.toString(), '_mmmeta/db/2026-11-22T12:17:55.295840.append\t' + Buffer.byteLength(HISTORY) + ' bytes\n_mmmeta/config.yml\t' + Buffer.byteLength(CONFIG) + ' bytes\n' +
    `2 files copied (${Buffer.byteLength(HISTORY) + Buffer.byteLength(CONFIG)} bytes), 0 unchanged\n`)
  t.same(jsonLines((await cli(['meta', 'push', target, '--metadir', dir, '--json'])).stdout), [{ copied: [], unchanged: 2, bytes: 0 }])
  t.equal((await cli(['meta', 'pull', target, '--metadir', consumer])).code, 0)
  t.equal((await cli(['meta', 'update', '--metadir', consumer])).stdout.toString(), 'added 3, updated 0, deleted 0, skipped 0, invalid 0\n')
  t.equal((await cli(['meta', 'push', '--metadir', dir])).code, 2)
  // A mistyped URL or directory copies nothing: one line saying so, exit 1 (was "0 files copied", exit 0).
  const typo = await cli(['meta', 'pull', `${target}-typo`, '--metadir', consumer])
  t.same([typo.code, typo.stdout.toString()], [1, ''])
  t.match(typo.stderr.toString(), /^shoebox meta pull: \S+-typo: no metadir there \(nothing under _mmmeta\/\); nothing copied\n$/)
  const nowhere = await cli(['meta', 'push', target, '--metadir', path.join(dir, 'db')])
  t.equal(nowhere.code, 1)
  t.match(nowhere.stderr.toString(), /^shoebox meta push: \S+_mmmeta: no metadir here \(no such directory\); nothing copied\n$/)
})

t.test('pull and push: a key with a control character is one line, escaped (a store another publishes named the lines)', async (t) => {
  const dir = base(t)
  const target = fs.mkdtempSync(path.join(dir, 'bucket-'))
  // A publisher's store key (a file name in its _store/): printed as it was, it forged a line of the summary.
  fs.mkdirSync(path.join(target, '_mmmeta', '_store'), { recursive: true })
  fs.writeFileSync(path.join(target, '_mmmeta', '_store', 'k\n9 files copied (0 bytes), 0 unchanged\x1b[31m'), '"v"')
  fs.writeFileSync(path.join(target, '_mmmeta', 'config.yml'), CONFIG)
  const consumer = fs.mkdtempSync(path.join(dir, 'consumer-'))
  const pull = await cli(['meta', 'pull', `file://${target}`, '--metadir', consumer])
  t.equal(pull.code, 0, pull.stderr)
  t.equal(pull.stdout.toString(), `_mmmeta/config.yml\t${Buffer.byteLength(CONFIG)} bytes\n` +
    '_mmmeta/_store/k\\n9 files copied (0 bytes), 0 unchanged\\x1b[31m\t3 bytes\n' +
    `2 files copied (${Buffer.byteLength(CONFIG) + 3} bytes), 0 unchanged\n`)
  const push = await cli(['meta', 'push', `file://${fs.mkdtempSync(path.join(dir, 'again-'))}`, '--metadir', consumer])
  t.match(push.stdout.toString(), /^_mmmeta\/_store\/k\\n9 files copied \(0 bytes\), 0 unchanged\\x1b\[31m\t3 bytes$/m, 'push too')
})

t.test('update reports invalid rows and unreadable history rows on stderr; --replace and --cleanup', async (t) => {
  const dir = base(t)
  const bad = 'content_hash,_file_name,pages\r\ne5,,1\r\nf6,f6.pdf,many\r\n,x.pdf,1\r\n'
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-23T00:00:00.000000.append'), bad)
  const update = await cli(['meta', 'update', '--metadir', dir])
  t.equal(update.code, 0)
  t.equal(update.stdout.toString(), 'added 3, updated 0, deleted 0, skipped 0, invalid 2\n')
  t.match(update.stderr, /skipped .*2026-11-23T00:00:00\.000000\.append: line 4: no value for the unique key 'content_hash'\n/)
  t.match(update.stderr, /invalid e5: missing keys: _file_name\ninvalid f6: pages: "many" is not an integer \(int\)\n/)
  fs.rmSync(path.join(dir, '_mmmeta', 'db', '2026-11-23T00:00:00.000000.append'))
  const saved = await cli(['meta', 'query', '--metadir', dir, '--count'])
  t.equal(saved.stdout.toString(), '3\n')
  t.same(jsonLines((await cli(['meta', 'update', '--metadir', dir, '--replace', '--json'])).stdout), [{ added: 3, updated: 0, deleted: 0, skipped: 0, invalid: 0, dropped: [] }])
  t.same((jsonLines((await cli(['meta', 'update', '--metadir', dir, '--cleanup', '--json'])).stdout)[0] as { dropped: string[] }).dropped, [], 'nothing to drop: no include configured keeps every column')
})

t.test("update's invalid-row lines print a row's key with its control characters escaped (a history pulled from another's store named it)", async (t) => {
  const dir = base(t)
  // The unique key of a row: ESC [2J cleared the terminal, and a newline in it forged a line.
  const bad = 'content_hash,_file_name,pages\r\n"e\x1b[2J\ninvalid nothing: all fine",e.pdf,many\r\n'
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-23T00:00:00.000000.append'), bad)
  const update = await cli(['meta', 'update', '--metadir', dir])
  t.equal(update.code, 0)
  t.equal(update.stderr, 'invalid e\\x1b[2J\\ninvalid nothing: all fine: pages: "many" is not an integer (int)\n')
})

t.test('a --metadir without _mmmeta/ (a typo) is an error naming it, and nothing is made there', async (t) => {
  const dir = base(t)
  const typo = path.join(dir, 'archvie')
  const file = path.join(dir, 'plain')
  fs.writeFileSync(file, 'x')
  const commands = [['inspect'], ['query'], ['query', '--count'], ['get', 'a1'], ['update'], ['store'], ['store', 'set', 'k', 'v'], ['dump'], ['squash']]
  for (const args of commands) {
    const r = await cli(['meta', ...args, '--metadir', typo])
    t.same([r.code, r.stdout.toString()], [1, ''], args.join(' '))
    t.equal(r.stderr, `shoebox meta ${args[0]}: ${path.join(typo, '_mmmeta')}: no metadir here (no such directory); nothing read or created\n`, args.join(' '))
    t.notOk(fs.existsSync(typo), `${args.join(' ')} made nothing`)
    const notDir = await cli(['meta', ...args, '--metadir', file])
    t.equal(notDir.code, 1, `${args.join(' ')} under a file`)
  }
  t.equal((await cli(['meta', 'inspect', '--metadir', dir])).code, 0, 'a metadir that is there is read')
})

t.test('query: a key that is no column (a typo) is a usage error naming it, not "no rows" (or every row)', async (t) => {
  const dir = base(t)
  t.equal((await cli(['meta', 'update', '--metadir', dir])).code, 0)
  const state = path.join(dir, '_mmmeta', 'state.db')
  const typos: Array<[string[], string]> = [
    [['documnet_type=contract'], 'documnet_type'], [['documnet_type~con%'], 'documnet_type'], [['--null', 'documnet_type'], 'documnet_type'],
    [['--not-null', 'documnet_type'], 'documnet_type'], [['--count', 'documnet_type=contract'], 'documnet_type'], [['document_type=contract', 'pagse>1'], 'pagse']
  ]
  for (const [args, key] of typos) {
    const r = await cli(['meta', 'query', '--metadir', dir, ...args])
    t.same([r.code, r.stdout.toString()], [2, ''], args.join(' '))
    t.match(r.stderr, `shoebox meta query: no column '${key}' in ${state} (`, args.join(' '))
  }
  // A consumer column no row has yet is a column once config.yml types it: imported=false is every row.
  fs.writeFileSync(path.join(dir, '_mmmeta', 'config.yml'), CONFIG.replace('public: bool', 'public: bool, imported: bool'))
  t.equal((await cli(['meta', 'query', '--metadir', dir, '--count', 'imported=false'])).stdout.toString(), '3\n')
  t.equal((await cli(['meta', 'query', '--metadir', dir, '--count', 'document_type=contract'])).stdout.toString(), '2\n')
})

t.test('a state db whose checkpoint fails on close (a full disk) is one line naming it and saying what was kept', async (t) => {
  // A file size limit (prlimit --fsize) stands in for a full disk: the child may read state.db but not grow
  // it, so close()'s checkpoint of the WAL into it fails.
  const dir = base(t)
  const rows = (from: number): string => 'content_hash,_file_name,pad\r\n' + Array.from({ length: 3000 }, (_, i) => `u${from + i},u${from + i}.pdf,${'x'.repeat(200)}\r\n`).join('')
  // state.db big enough (about 1 MB) that the limit below leaves room for the other files a process writes
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-23T00:00:00.000000.append'), rows(0))
  const first = await metadir(dir)
  await first.update()
  first.close()
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-24T00:00:00.000000.append'), rows(3000))
  const md = await metadir(dir)
  md.files.state.db.pragma('wal_autocheckpoint = 0')
  t.equal((await md.update()).added, 3000)
  const state = path.join(dir, '_mmmeta', 'state.db')
  t.ok(fs.statSync(`${state}-wal`).size > fs.statSync(state).size, 'the rows are in the WAL, not yet in state.db')
  const { cliBinary } = await import('../../fixtures-s3/cli-build.js')
  // Node ignores SIGXFSZ, so a write past the limit fails with EFBIG. Without NODE_OPTIONS: tap puts its
  // process-info hook in every child through it, and that hook's signal-exit catches SIGXFSZ and raises it again
  // once nothing else listens (on Node 24 the update below was killed by it after printing its line, exit null).
  const limited = (size: number, ...args: string[]): SpawnSyncReturns<string> =>
    spawnSync('env', ['-u', 'NODE_OPTIONS', 'prlimit', `--fsize=${size}`, '--', process.execPath, cliBinary(), ...args], { encoding: 'utf8' })
  const r = limited(fs.statSync(state).size, 'meta', 'inspect', '--metadir', dir)
  // An update that cannot grow the WAL either: its own failure is the line, not the checkpoint's after it.
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-25T00:00:00.000000.append'), rows(6000))
  const u = limited(fs.statSync(`${state}-wal`).size, 'meta', 'update', '--metadir', dir)
  t.equal(u.status, 1, u.stderr)
  t.match(u.stderr, /^shoebox meta update: \S+state\.db: cannot update the state db: .+; rolled back, the state db is as it was\n$/, 'the update\'s own error (a failed checkpoint after it hid it)')
  md.close()
  t.equal(r.status, 1, r.stderr)
  t.match(r.stdout, /^files: 6003\n/, 'inspect printed what it read')
  t.match(r.stderr, new RegExp(`^shoebox meta inspect: ${state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot checkpoint the state db: .+; everything committed is kept \\(in its -wal file, which the next open reads\\)\\n$`),
    'it said only "database or disk is full"')
  t.equal((await cli(['meta', 'query', '--metadir', dir, '--count'])).stdout.toString(), '6003\n', 'nothing lost, nothing half merged')
})

t.test('a metadir in a directory this user cannot write (a read-only mount) is one line saying so, not SQLite\'s bare "unable to open database file"', async (t) => {
  // In WAL mode SQLite must make state.db-shm beside the db even to read it. Root ignores permission bits:
  // the CLI runs as nobody then, from a copy others can read (cliBinary()'s directory is closed to them).
  const { tempDir } = await import('../../fixtures-roll/util.js')
  const { buildCli } = await import('../../fixtures-s3/cli-build.js')
  const { checkReachableByOthers, runCli } = await import('../../fixtures-roll/cli-child.js')
  const { ROOT } = await import('../../transpile.js')
  const openDir = (prefix: string): string => {
    const d = tempDir(t, prefix)
    fs.chmodSync(d, 0o755)
    return d
  }
  const bin = buildCli(openDir('shoebox-meta-ro-bin-'))
  const dir = openDir('shoebox-meta-ro-')
  fs.mkdirSync(path.join(dir, '_mmmeta', 'db'), { recursive: true })
  fs.writeFileSync(path.join(dir, '_mmmeta', 'config.yml'), CONFIG)
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-22T12:17:55.295840.append'), HISTORY)
  t.equal((await cli(['meta', 'update', '--metadir', dir])).code, 0)
  const meta = path.join(dir, '_mmmeta')
  const state = path.join(meta, 'state.db')
  const before = fs.readFileSync(state)
  for (const d of [meta, path.join(meta, 'db'), path.join(meta, '_store'), path.join(meta, '_store_types')]) fs.chmodSync(d, 0o555)
  t.teardown(() => { for (const d of [meta, path.join(meta, 'db'), path.join(meta, '_store'), path.join(meta, '_store_types')]) fs.chmodSync(d, 0o755) })
  const uid = process.getuid?.() === 0 ? { uid: 65534 } : {}
  if (uid.uid !== undefined) for (const needed of [bin, path.join(ROOT, 'node_modules', 'better-sqlite3', 'package.json')]) checkReachableByOthers(needed)
  for (const command of ['update', 'query']) {
    const r = await runCli(t, bin, ['meta', command, '--metadir', dir], '', uid)
    t.equal(r.stderr, `shoebox meta ${command}: ${state}: cannot open the state db: its directory ${meta}: permission denied (EACCES); the state db is as it was\n`, command)
    t.equal(r.code, 1)
  }
  t.same(fs.readFileSync(state), before, 'the state db is as it was')
  t.same(fs.readdirSync(meta).sort(), ['_store', '_store_types', 'config.yml', 'db', 'state.db'], 'nothing made beside it')
  for (const d of [meta, path.join(meta, 'db'), path.join(meta, '_store'), path.join(meta, '_store_types')]) fs.chmodSync(d, 0o755)
  t.equal((await cli(['meta', 'query', '--metadir', dir, '--count'])).stdout.toString(), '3\n', 'writable again: the next run works')
})
