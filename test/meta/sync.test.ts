/**
 * push/pull of a metadir through a Store: history first, pointers last,
 * only new files moved (counted in requests and bytes through a proxy in
 * front of a real S3 server), files arriving whole, state.db never copied.
 */
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { pullMetadir, pushMetadir, type SyncedFile } from '../../lib/meta/sync.js'
import { MetaStore } from '../../lib/meta/kv-store.js'
import { openStore } from '../../lib/store/open-store.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'
import { cliHungAt, expectCode } from '../helpers.js'
import { tempDir } from '../temp-dir.js'
import { cliBinary, runCli } from '../fixtures-s3/cli-build.js'

const APPEND_1 = 'content_hash,title,__mmmeta_keys\r\na,Grüße,\r\n'
const APPEND_2 = 'content_hash,title,__mmmeta_keys\r\nb,"x, y",\r\n'

async function publisher (t: Test): Promise<string> {
  const base = t.testdir({
    _mmmeta: {
      'config.yml': 'metadata:\n  unique: content_hash\n',
      'state.db': 'not to be copied',
      db: { '2026-11-22T12:17:55.295840.append': APPEND_1, '.2026-11-23T00:00:00.000000.append.abc.tmp': 'half' }
    }
  })
  const store = new MetaStore(path.join(base, '_mmmeta'))
  await store.touch('meta_last_updated', new Date('2026-11-22T12:17:56Z'))
  await store.set('custom.key', 7)
  return base
}

t.test('push to S3 then pull: order, only new files, counted requests and bytes', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint)
  t.teardown(() => proxy.close())
  const url = `s3://${s3.bucket}/archive`
  const store = openStore(url, { endpoint: proxy.endpoint, credentials: s3.credentials })
  t.teardown(() => store.close())
  const base = await publisher(t)

  const order: string[] = []
  const first = await pushMetadir(base, store, { onFile: (f: SyncedFile) => order.push(f.key) })
  t.same(first.copied.map((f) => f.key), order)
  t.same(order, [
    '_mmmeta/db/2026-11-22T12:17:55.295840.append',
    '_mmmeta/config.yml',
    '_mmmeta/_store_types/custom.key',
    '_mmmeta/_store_types/meta_last_updated',
    '_mmmeta/_store_types/store_last_updated',
    '_mmmeta/_store/custom.key',
    '_mmmeta/_store/meta_last_updated',
    '_mmmeta/_store/store_last_updated'
  ], 'history first, the last-updated pointers last; no temporaries, no state.db')
  t.equal(s3.object('archive/_mmmeta/db/2026-11-22T12:17:55.295840.append')?.toString(), APPEND_1)
  t.equal(proxy.count('PutObject'), 8)

  const puts = proxy.count('PutObject')
  const again = await pushMetadir(base, store)
  t.same([again.copied.length, again.unchanged, again.bytes], [0, 8, 0], 'nothing new, nothing moved')
  t.equal(proxy.count('PutObject'), puts)
  t.equal(proxy.count('GetObject') > 0, true, 'pointers were compared')
  const gets = proxy.count('GetObject')

  fs.writeFileSync(path.join(base, '_mmmeta', 'db', '2026-11-23T09:00:00.000000.append'), APPEND_2)
  await new MetaStore(path.join(base, '_mmmeta')).touch('meta_last_updated', new Date('2026-11-23T09:00:01Z'))
  const third = await pushMetadir(base, store)
  t.same(third.copied.map((f) => f.key), [
    '_mmmeta/db/2026-11-23T09:00:00.000000.append', '_mmmeta/_store/meta_last_updated', '_mmmeta/_store/store_last_updated'
  ])
  t.equal(proxy.count('PutObject'), puts + 3, 'one history file and two pointers uploaded')
  t.equal(proxy.count('GetObject') - gets, 7, 'same-size pointers are compared')
  t.same(proxy.log.filter((r) => r.op === 'GetObject' && r.url.includes('/db/')), [], 'history files are never read back')
  t.equal(third.bytes, Buffer.byteLength(APPEND_2) + 2 * '2026-11-23T09:00:01.000000'.length)

  const consumer = fs.mkdtempSync(path.join(base, 'consumer-'))
  const pulled = await pullMetadir(consumer, store)
  t.equal(pulled.copied.length, 9)
  t.equal(fs.readFileSync(path.join(consumer, '_mmmeta', 'db', '2026-11-23T09:00:00.000000.append'), 'utf8'), APPEND_2)
  t.same(await new MetaStore(path.join(consumer, '_mmmeta')).get('meta_last_updated'), new Date('2026-11-23T09:00:01Z'))
  t.equal(await new MetaStore(path.join(consumer, '_mmmeta')).get('custom.key'), 7)
  t.notOk(fs.existsSync(path.join(consumer, '_mmmeta', 'state.db')))
  t.same(fs.readdirSync(path.join(consumer, '_mmmeta', 'db')).filter((n) => n.startsWith('.')), [], 'no temporaries left')
  const nothing = await pullMetadir(consumer, store)
  t.same([nothing.copied.length, nothing.unchanged], [0, 9])
})

t.test('file:// both ways, and a history file that changed size is refused', async (t) => {
  const base = await publisher(t)
  const target = fs.mkdtempSync(path.join(base, 'target-'))
  const url = `file://${target}`
  t.equal((await pushMetadir(base, url)).copied.length, 8)
  t.equal(fs.readFileSync(path.join(target, '_mmmeta', 'config.yml'), 'utf8'), 'metadata:\n  unique: content_hash\n')
  fs.appendFileSync(path.join(target, '_mmmeta', 'db', '2026-11-22T12:17:55.295840.append'), 'c,damaged,\r\n')
  await expectCode(t, pushMetadir(base, url), 'SHOEBOX_META_HISTORY', 'a changed history file')
  await expectCode(t, pullMetadir(base, url), 'SHOEBOX_META_HISTORY', 'and the other way')
  const empty = fs.mkdtempSync(path.join(base, 'empty-'))
  const other = fs.mkdtempSync(path.join(base, 'other-'))
  const nothingThere = await pullMetadir(other, `file://${empty}`).catch((err: Error) => err)
  t.match(nothingThere, { code: 'SHOEBOX_NOT_FOUND', message: `file://${empty}: no metadir there (nothing under _mmmeta/); nothing copied` }, 'a store with no metadir: said, not "0 files copied"')
  t.same(fs.readdirSync(other), [], 'and nothing made locally')
  await expectCode(t, pushMetadir(other, url), 'SHOEBOX_NOT_FOUND', 'pushing from a directory with no _mmmeta/')
  fs.writeFileSync(path.join(other, '_mmmeta'), 'a file')
  await expectCode(t, pushMetadir(other, url), 'SHOEBOX_NOT_FOUND', 'nor with a file named _mmmeta')
})

t.test('a copy that fails part way says what was copied before it (those files stay)', async (t) => {
  const base = await publisher(t)
  fs.writeFileSync(path.join(base, '_mmmeta', 'db', '2026-11-23T00:00:00.000000.append'), APPEND_2)
  // pull: the second history file's place is taken by a directory, so it cannot be written
  const consumer = fs.mkdtempSync(path.join(base, 'consumer-'))
  fs.mkdirSync(path.join(consumer, '_mmmeta', 'db', '2026-11-23T00:00:00.000000.append'), { recursive: true })
  const pulled = await expectCode(t, pullMetadir(consumer, `file://${base}`), 'SHOEBOX_IO', 'pull')
  t.match(pulled?.message, /^cannot write \S+2026-11-23T00:00:00\.000000\.append: is a directory \(EISDIR\); 1 file copied before it stays$/, 'it named only the file it failed at')
  t.ok(fs.existsSync(path.join(consumer, '_mmmeta', 'db', '2026-11-22T12:17:55.295840.append')))
  // push: the first history file's place at the target is taken by a directory
  const target = fs.mkdtempSync(path.join(base, 'target-'))
  fs.mkdirSync(path.join(target, '_mmmeta', 'db', '2026-11-22T12:17:55.295840.append'), { recursive: true })
  const pushed = await pushMetadir(base, `file://${target}`).catch((err: Error) => err)
  t.match(pushed, { message: /2026-11-22T12:17:55\.295840\.append: .*; nothing copied$/ }, 'push')
})

t.test('a pull killed mid-download: the next pull removes the temporary file it left in db/ (not a live pull\'s)', async (t) => {
  const base = await publisher(t)
  const consumer = tempDir(t)
  const db = path.join(consumer, '_mmmeta', 'db')
  fs.mkdirSync(db, { recursive: true })
  // A live pull's download (this process's pid) is left alone.
  const live = `.2026-01-01T00:00:00.000000.append.${process.pid}.0123456789ab.tmp`
  fs.writeFileSync(path.join(db, live), 'downloading')
  // The child's rename of the downloaded history file into place never returns: it is killed there.
  const args = ['meta', 'pull', `file://${base}`, '--metadir', consumer]
  const child = await cliHungAt(t, args, { call: 'rename', path: /\.append$/ })
  await child.kill()
  const temps = (): string[] => fs.readdirSync(db).filter((n) => n.endsWith('.tmp') && n !== live)
  t.equal(temps().length, 1, 'the kill left the downloaded history file under its temporary name')

  const r = await runCli(cliBinary(), args)
  t.equal(r.code, 0, r.stderr)
  t.same(temps(), [], 'the next pull removed it')
  t.ok(fs.existsSync(path.join(db, live)), 'a live pull\'s is left')
  t.ok(fs.existsSync(path.join(db, '2026-11-22T12:17:55.295840.append')), 'and the history file is pulled')
})
