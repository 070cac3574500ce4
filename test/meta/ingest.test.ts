/**
 * metaIngest() (spec §4.1 with the §11 fixes): exact values, deterministic
 * diff files as mmmeta's replay reads them, skipped / updated / null
 * propagation / removed keys, invalid objects reported with their origin and
 * the valid ones kept, --ensure soft deletes that are not sticky, --replace,
 * --ensure-files.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { metaConfigFrom, metaPaths } from '../../lib/meta/config.js'
import { listHistoryFiles, loadHistory } from '../../lib/meta/history.js'
import { metaIngest, type InvalidMetadata, type MetaIngestOptions, type MetaIngestResult } from '../../lib/meta/ingest.js'
import { UnreadableMetadata, withOrigin } from '../../lib/meta/origin.js'
import { NumberText } from '../../lib/meta/flatten.js'
import { MetaStore } from '../../lib/meta/kv-store.js'
import { tempDir } from '../temp-dir.js'

const T1 = Date.UTC(2026, 11, 3, 10, 0, 0) * 1000
const TS1 = '2026-12-03 10:00:00.000000'
const TS2 = '2026-12-03 11:00:00.000000'

function metadir (t: Test): string {
  return tempDir(t, 'shoebox-meta-ingest-')
}

async function ingest (base: string, objects: unknown[], options: MetaIngestOptions = {}, invalid: InvalidMetadata[] = []): Promise<MetaIngestResult> {
  const sink = metaIngest(base, { fsync: false, ...options })
  sink.on('invalid', (info: InvalidMetadata) => invalid.push(info))
  await pipeline(Readable.from(objects, { objectMode: true }), sink)
  return sink.result as MetaIngestResult
}

function dbText (base: string, name: string): string {
  return fs.readFileSync(path.join(metaPaths(base).db, name), 'utf8')
}

t.test('first run: exact values, one deterministic .append', async (t) => {
  const base = metadir(t)
  const objects = [
    { content_hash: 'bbb', 'file-name': 'b.pdf', n: 0, ok: false, blank: '', code: '0012', big: new NumberText('12345678901234567890'), tags: ['x'], publisher: { name: 'Grüße\r\n"Q"' } },
    { content_hash: 'aaa', 'file-name': 'a.pdf', n: 2, ok: true, none: null }
  ]
  const result = await ingest(base, objects, { micros: T1 })
  t.same(result, { added: 2, updated: 0, deleted: 0, skipped: 0, invalid: 0, file: result.file, rows: 2 })
  t.equal(result.file?.name, '2026-12-03T10:00:00.000000.append')
  t.equal(dbText(base, '2026-12-03T10:00:00.000000.append'),
    'content_hash,__meta_added,__meta_last_updated,big,blank,code,file_name,n,ok,publisher:name,tags,__mmmeta_keys\r\n' +
    `aaa,${TS1},${TS1},,,,a.pdf,2,true,,,"__meta_added,__meta_last_updated,file_name,n,ok"\r\n` +
    `bbb,${TS1},${TS1},12345678901234567890,"",0012,b.pdf,0,false,"Grüße\r\n""Q""","[""x""]","__meta_added,__meta_last_updated,big,blank,code,file_name,n,ok,publisher:name,tags"\r\n`)
  const history = await loadHistory(base, { unique: 'content_hash' })
  t.same(history.get('bbb'), {
    content_hash: 'bbb', __meta_added: TS1, __meta_last_updated: TS1, big: '12345678901234567890', blank: '', code: '0012', file_name: 'b.pdf', n: '0', ok: 'false', 'publisher:name': 'Grüße\r\n"Q"', tags: '["x"]'
  })
  t.same(fs.readFileSync(path.join(metaPaths(base).store, 'meta_last_updated'), 'utf8'), '2026-12-03T10:00:00.000000')
  // typed as update's state_last_updated is, so the two compare (a string beside a Date never did)
  const store = new MetaStore(metaPaths(base).metadir)
  t.same(await store.get('meta_last_updated'), new Date(T1 / 1000), 'meta_last_updated reads back as a Date')
  t.same(await store.get('store_last_updated'), new Date(T1 / 1000), 'so does store_last_updated')
  t.notOk(fs.existsSync(path.join(metaPaths(base).metadir, '.publish.lock')), 'the lock is released')
})

t.test('no change: skipped, no new file; a change: only the changed keys (mmmeta test_diff_update)', async (t) => {
  const base = metadir(t)
  const objects = [{ content_hash: 'a', int_value: 2, title: 'A' }, { content_hash: 'b', int_value: 2, title: 'B' }]
  await ingest(base, objects, { micros: T1 })
  const again = await ingest(base, objects, { micros: T1 + 1 })
  t.same([again.skipped, again.added, again.updated, again.file], [2, 0, 0, null])
  t.equal((await listHistoryFiles(base)).length, 1)
  const changed = await ingest(base, [{ content_hash: 'a', int_value: 3, title: 'A' }, objects[1]], { micros: T1 + 3600e6 })
  t.same([changed.updated, changed.skipped], [1, 1])
  t.equal(dbText(base, '2026-12-03T11:00:00.000000.append'),
    `content_hash,__meta_last_updated,int_value,__mmmeta_keys\r\na,${TS2},3,"__meta_last_updated,int_value"\r\n`)
})

t.test('null and removed keys propagate; other keys are kept', async (t) => {
  const base = metadir(t)
  await ingest(base, [{ content_hash: 'a', x: '1', y: '2', z: '3' }], { micros: T1 })
  const r = await ingest(base, [{ content_hash: 'a', x: null, z: '3' }], { micros: T1 + 1 })
  t.equal(r.updated, 1)
  const row = (await loadHistory(base, { unique: 'content_hash' })).get('a')
  t.same([row?.x, row?.y, row?.z], [null, null, '3'])
})

t.test('invalid objects are reported with their origin; every valid one is kept', async (t) => {
  const base = metadir(t)
  const config = metaConfigFrom({ metadata: { required: ['title'] } })
  const invalid: InvalidMetadata[] = []
  const objects = [
    withOrigin({ content_hash: 'a', title: 'ok' }, { file: 'a.json' }),
    withOrigin({ content_hash: 'b', title: '' }, { file: 'in.ndjson', line: 2 }),
    withOrigin({ title: 'no uid' }, { file: 'in.ndjson', line: 3 }),
    new UnreadableMetadata({ file: 'bad.json' }, 'line 1 column 2: expected a key'),
    withOrigin({ content_hash: 'c', title: 'also ok' }, { file: 'c.json' }),
    withOrigin({ content_hash: 'd', title: 'x', 'a,b': 1 }, { file: 'd.json' }),
    withOrigin({ content_hash: 'e\nf', title: 'x' }, { file: 'e.json' }),
    withOrigin({ content_hash: 'g', title: 'x', __mmmeta_keys: 'y' }, { file: 'g.json' }),
    withOrigin({ content_hash: 'h', title: 'x', 'n\u0000l': 1 }, { file: 'h.json' })
  ]
  const r = await ingest(base, objects, { config }, invalid)
  t.same([r.added, r.invalid], [2, 7])
  t.same(invalid, [
    { file: 'in.ndjson', line: 2, uid: 'b', reason: 'missing keys: title' },
    { file: 'in.ndjson', line: 3, reason: 'missing keys: content_hash' },
    { file: 'bad.json', reason: 'line 1 column 2: expected a key' },
    { file: 'd.json', uid: 'd', reason: "the key 'a,b' holds a comma, which the meta db cannot list in __mmmeta_keys" },
    { file: 'e.json', uid: 'e\nf', reason: "the unique key 'content_hash' holds a line break" },
    { file: 'g.json', uid: 'g', reason: "the key '__mmmeta_keys' is the meta db's list of changed keys, not a key an object can have" },
    { file: 'h.json', uid: 'h', reason: 'the key "n\\u0000l" holds a NUL character, which no state db column name can' }
  ])
  t.same([...(await loadHistory(base, config)).uids()].sort(), ['a', 'c'])
})

t.test('--ensure: soft delete once, undelete when the file returns', async (t) => {
  const base = metadir(t)
  await ingest(base, [{ content_hash: 'a' }, { content_hash: 'b' }], { micros: T1 })
  const gone = await ingest(base, [{ content_hash: 'a' }], { ensure: true, micros: T1 + 1 })
  t.same([gone.deleted, gone.skipped], [1, 1])
  let row = (await loadHistory(base, { unique: 'content_hash' })).get('b')
  t.same([row?.__deleted, row?.__deleted_reason, row?.__deleted_at], ['1', 'meta-missing', '2026-12-03 10:00:00.000001'])
  const again = await ingest(base, [{ content_hash: 'a' }], { ensure: true, micros: T1 + 2 })
  t.same([again.deleted, again.file], [0, null], 'not deleted (nor written) again')
  const back = await ingest(base, [{ content_hash: 'a' }, { content_hash: 'b' }], { ensure: true, micros: T1 + 3 })
  t.same([back.updated, back.deleted, back.skipped], [1, 0, 1])
  row = (await loadHistory(base, { unique: 'content_hash' })).get('b')
  t.same([row?.__deleted, row?.__deleted_reason], [null, null], 'undeleted')
})

t.test('--replace writes one .squashed and removes the older files', async (t) => {
  const base = metadir(t)
  await ingest(base, [{ content_hash: 'a', v: '1' }, { content_hash: 'b' }], { micros: T1 })
  await ingest(base, [{ content_hash: 'a', v: '2' }], { micros: T1 + 1 })
  const r = await ingest(base, [{ content_hash: 'c', v: '3' }], { replace: true, micros: T1 + 2 })
  t.same(r.added, 1)
  t.same((await listHistoryFiles(base)).map((f) => f.name), ['2026-12-03T10:00:00.000002.squashed'])
  t.same([...(await loadHistory(base, { unique: 'content_hash' })).rows()], [
    { content_hash: 'c', __meta_added: '2026-12-03 10:00:00.000002', __meta_last_updated: '2026-12-03 10:00:00.000002', v: '3' }
  ])
})

t.test('--ensure-files: a missing original is soft-deleted (original-missing)', async (t) => {
  const base = metadir(t)
  const root = path.join(base, 'files')
  fs.mkdirSync(root)
  fs.writeFileSync(path.join(root, 'a.pdf'), 'x')
  const config = metaConfigFrom({ metadata: { file_name: '_file_name' } })
  const r = await ingest(base, [
    { content_hash: 'a', _file_name: 'a.pdf' }, { content_hash: 'b', _file_name: 'b.pdf' }, { content_hash: 'c', _file_name: '../../etc/passwd' }
  ], { config, ensureFiles: true, filesRoot: root })
  t.same(r.added, 3)
  const history = await loadHistory(base, config)
  t.same(['a', 'b', 'c'].map((uid) => history.value(uid, '__deleted_reason') ?? null), [null, 'original-missing', 'original-missing'])
})

t.test('an empty run writes nothing; a metadir is created', async (t) => {
  const base = path.join(metadir(t), 'new')
  const r = await ingest(base, [])
  t.same([r.added, r.file, r.rows], [0, null, 0])
  t.ok(fs.existsSync(metaPaths(base).db))
  t.same(fs.readdirSync(metaPaths(base).db), [])
})

t.test('10k rows, then one change: a one-row diff (a sanity run; no timing asserted)', async (t) => {
  const base = metadir(t)
  const objects = (n: number): object[] => Array.from({ length: 10000 }, (_, i) => ({ content_hash: `h${String(i).padStart(5, '0')}`, i, v: i === 4321 ? n : 0, note: 'ünï' }))
  const first = await ingest(base, objects(0), { micros: T1 })
  t.same([first.added, first.file?.rows], [10000, 10000])
  const second = await ingest(base, objects(1), { micros: T1 + 1 })
  t.same([second.updated, second.skipped, second.file?.rows], [1, 9999, 1])
  t.equal(fs.readFileSync(second.file?.path as string, 'utf8'), 'content_hash,__meta_last_updated,v,__mmmeta_keys\r\nh04321,2026-12-03 10:00:00.000001,1,"__meta_last_updated,v"\r\n')
  t.equal((await loadHistory(base, { unique: 'content_hash' })).size, 10000)
})

t.test('one uid twice in a run: the diff holds the keys changed since before the run, with their last values', async (t) => {
  const base = metadir(t)
  await ingest(base, [{ content_hash: 'a', x: '0', y: '5', z: '1' }], { micros: T1 })
  const r = await ingest(base, [{ content_hash: 'a', x: '1', y: '5', z: '2' }, { content_hash: 'a', x: '2', y: '5', z: '1' }], { micros: T1 + 1 })
  t.same([r.updated, r.skipped], [2, 0])
  t.equal(fs.readFileSync(r.file?.path as string, 'utf8'),
    'content_hash,__meta_last_updated,x,__mmmeta_keys\r\na,2026-12-03 10:00:00.000001,2,"__meta_last_updated,x"\r\n', 'z changed and changed back: not in the diff')
  const fresh = await ingest(base, [{ content_hash: 'n', v: '1' }, { content_hash: 'n', v: '2', w: null }], { micros: T1 + 2 })
  t.same([fresh.added, fresh.updated], [1, 1])
  t.equal(fs.readFileSync(fresh.file?.path as string, 'utf8'),
    'content_hash,__meta_added,__meta_last_updated,v,__mmmeta_keys\r\nn,2026-12-03 10:00:00.000002,2026-12-03 10:00:00.000002,2,"__meta_added,__meta_last_updated,v"\r\n')
})

t.test('the replay scratch db in _mmmeta/ is gone after a run and after a failed one; a stale one is swept', async (t) => {
  const base = metadir(t)
  const scratch = (): string[] => fs.readdirSync(metaPaths(base).metadir).filter((n) => n.startsWith('.replay.'))
  await ingest(base, [{ content_hash: 'a', v: '1' }], { micros: T1 })
  t.same(scratch(), [], 'removed after a run')
  const failing = new Readable({
    objectMode: true,
    read () {
      this.push({ content_hash: 'b', v: '2' })
      this.destroy(new Error('source broke'))
    }
  })
  await t.rejects(pipeline(failing, metaIngest(base, { fsync: false })), /source broke/)
  t.same(scratch(), [], 'removed after a failed run')
  fs.writeFileSync(path.join(metaPaths(base).metadir, '.replay.0123456789ab.tmp'), 'left by a killed run')
  // and the rollback journal SQLite keeps beside it (a generate killed with SIGKILL left one, kept for good)
  fs.writeFileSync(path.join(metaPaths(base).metadir, '.replay.0123456789ab.tmp-journal'), 'left by a killed run')
  await ingest(base, [{ content_hash: 'c', v: '3' }], { micros: T1 + 1 })
  t.same(scratch(), [], 'a stale one is removed by the next publisher')
  t.same([...(await loadHistory(base, { unique: 'content_hash' })).uids()].sort(), ['a', 'c'])
})

t.test('a store that cannot be touched (a file in the way of _store/) fails saying the new history file stays', async (t) => {
  const base = metadir(t)
  fs.mkdirSync(metaPaths(base).metadir)
  fs.writeFileSync(metaPaths(base).store, 'in the way')
  const err = await ingest(base, [{ content_hash: 'a' }], { micros: T1 }).then(() => undefined, (e: unknown) => e as Error & { code?: string })
  const written = path.join(metaPaths(base).db, '2026-12-03T10:00:00.000000.append')
  t.equal(err?.code, 'SHOEBOX_IO')
  t.match(err?.message, `a file is in the way (EEXIST); ${written} was written (1 rows) and stays, only the store's meta_last_updated was not updated`)
  t.same([...(await loadHistory(base, { unique: 'content_hash' })).uids()], ['a'], 'the row is in the meta db')
})

t.test('--ensure: every missing row is written deleted, also in the first run that deletes (the columns are new then)', async (t) => {
  const base = metadir(t)
  await ingest(base, [{ content_hash: 'a' }, { content_hash: 'b' }, { content_hash: 'c' }, { content_hash: 'd' }], { micros: T1 })
  const gone = await ingest(base, [{ content_hash: 'a' }], { ensure: true, micros: T1 + 1 })
  t.same([gone.deleted, gone.file?.rows], [3, 3], 'it counted 3 and wrote 1 row: b; c and d stayed live for every reader')
  const history = await loadHistory(base, { unique: 'content_hash' })
  t.same(['a', 'b', 'c', 'd'].map((uid) => history.get(uid)?.__deleted ?? null), [null, '1', '1', '1'])
  const again = await ingest(base, [{ content_hash: 'a' }], { ensure: true, micros: T1 + 2 })
  t.same([again.deleted, again.file], [0, null], 'nothing left to delete')
})

t.test('--ensure with no objects at all (an empty input) is refused, not every row soft-deleted', async (t) => {
  const base = metadir(t)
  await ingest(base, [{ content_hash: 'a' }, { content_hash: 'b' }], { micros: T1 })
  const before = (await listHistoryFiles(base)).map((f) => f.name)
  const err = await ingest(base, [], { ensure: true, micros: T1 + 1 }).catch((e: Error) => e)
  t.match(err, { code: 'SHOEBOX_NOT_FOUND', message: `${base}: no metadata objects came in, and ensure would soft-delete every row of the meta db; nothing written, the meta db is as it was` })
  t.same((await listHistoryFiles(base)).map((f) => f.name), before, 'nothing written (it wrote a and b deleted)')
  const one = await ingest(base, [{ content_hash: 'a' }], { ensure: true, micros: T1 + 2 })
  t.equal(one.deleted, 1, 'an input that brought something deletes the rest, as before')
})

for (const started of [true, false]) {
  t.test(`a write after end() (${started ? 'started' : 'not started yet'}) is refused alone: the objects before end() are written, then the sink fails (it was destroyed, and they were lost)`, async (t) => {
    const base = metadir(t)
    const sink = metaIngest(base, { fsync: false, micros: T1 })
    if (started) await new Promise<void>((resolve) => { sink.write({ content_hash: 'aaa', n: 0 }, () => { resolve() }) })
    else sink.write({ content_hash: 'aaa', n: 0 })
    const errors: Error[] = []
    sink.on('error', (err) => { errors.push(err) })
    const closed = new Promise((resolve) => { sink.on('close', resolve) })
    sink.write({ content_hash: 'bbb', n: 1 })
    sink.end()
    let late: Error | null | undefined
    const returned = sink.write({ content_hash: 'ccc', n: 2 }, (err) => { late = err })
    await closed
    t.equal(returned, false, 'the late write returns false')
    t.match(late, { code: 'SHOEBOX_USAGE', message: /^meta ingest .*: write after end\(\): it was not taken; the objects written before end\(\) are written to the meta db, then it fails with this error$/ })
    t.same(errors, [late], 'the sink fails once, with the refusal')
    t.equal(sink.result?.added, 2, 'the two objects before end() are counted')
    const history = await loadHistory(base, { unique: 'content_hash' })
    t.same([...history.uids()].sort(), ['aaa', 'bbb'], 'and written; the late one is not')
    t.notOk(fs.existsSync(path.join(metaPaths(base).metadir, '.publish.lock')), 'the lock is released')
  })
}

t.test('destroyed while it waits for another publisher\'s lock: the wait ends at once, the stream ends with that error, nothing written', async (t) => {
  // The wait (lockWait, 60 s by default) ran to its end first: a Ctrl-C of `meta generate` did nothing for a minute.
  const base = metadir(t)
  fs.mkdirSync(metaPaths(base).metadir, { recursive: true })
  const lock = path.join(metaPaths(base).metadir, '.publish.lock')
  const held = `${process.pid} ${os.hostname()} heldbythetest\n`
  fs.writeFileSync(lock, held)
  const sink = metaIngest(base, { fsync: false, lockWait: 600_000 })
  const stop = new Error('stop')
  sink.once('wait', () => { sink.destroy(stop) })
  const errors: Error[] = []
  sink.on('error', (err) => errors.push(err))
  await new Promise((resolve) => sink.once('close', resolve))
  t.same(errors, [stop], 'the destroy\'s error alone')
  t.equal(fs.readFileSync(lock, 'utf8'), held, 'the other publisher\'s lock untouched')
  t.same(await listHistoryFiles(base), [])
  t.same(fs.readdirSync(metaPaths(base).metadir).filter((name) => name !== '.publish.lock' && name.startsWith('.publish.lock')), [])
})

t.test('destroyed before its first write: nothing made, not even the metadir', async (t) => {
  // metaIngest() made _mmmeta/db/ even when destroyed at once, as rollingSink() does not.
  const base = path.join(metadir(t), 'not-made')
  const sink = metaIngest(base, { fsync: false })
  sink.destroy()
  await new Promise((resolve) => sink.once('close', resolve))
  t.notOk(fs.existsSync(base))
})
