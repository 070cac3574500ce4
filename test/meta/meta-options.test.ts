/**
 * The meta runs' options, checked where they enter (metaIngest(),
 * squashHistory(), a metadir's update() and files.find()), in the house's
 * words, before anything is read or written. Before: lockWait '10s' (a
 * string) made the deadline a string, and a held lock was waited for for
 * ever; micros NaN named a history file 'NaN-NaN-NaNTNaN...squashed'; find's
 * limit 'x' failed in SQLite ("no such column: NaN") and null found nothing;
 * update's now 'yesterday' failed as "date.toISOString is not a function";
 * squash's prune 'true' (a string) pruned nothing, without a word.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { metaPaths } from '../../lib/meta/config.js'
import { listHistoryFiles } from '../../lib/meta/history.js'
import { metaIngest } from '../../lib/meta/ingest.js'
import { metadir as openMetadir } from '../../lib/meta/metadir.js'
import { acquirePublishLock } from '../../lib/meta/publish-lock.js'
import { squashHistory } from '../../lib/meta/squash.js'
import { tempDir } from '../temp-dir.js'

function metadir (t: Test): string {
  const dir = tempDir(t, 'shoebox-meta-options-')
  fs.mkdirSync(metaPaths(dir).db, { recursive: true })
  fs.writeFileSync(path.join(metaPaths(dir).metadir, 'config.yml'), 'unique: content_hash\n')
  fs.writeFileSync(path.join(metaPaths(dir).db, '2026-01-01T00:00:00.000000.append'), 'content_hash,foo\r\nu1,a\r\nu2,b\r\n')
  return dir
}

/** What `fn` threw (the test fails if it threw nothing). */
function caught (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return new Error('nothing thrown')
}

const DURATION = 'expected a duration such as 10m, 1h, 30s or 250ms, got'
const MICROS = 'must be microseconds since 1970 (a whole number, at most 9007199254740991), got'

t.test('metaIngest: lockWait and micros refused at once, naming the option and the value', async (t) => {
  const base = metadir(t)
  for (const [options, option, reason] of [
    [{ lockWait: 'soon' }, 'lockWait', `${DURATION} "soon"`],
    [{ lockWait: null }, 'lockWait', `${DURATION} null`],
    [{ lockWait: -1 }, 'lockWait', 'must be a non-negative number of milliseconds, got -1'],
    [{ lockWait: NaN }, 'lockWait', 'must be a non-negative number of milliseconds, got NaN'],
    [{ micros: NaN }, 'micros', `${MICROS} NaN`],
    [{ micros: '1' }, 'micros', `${MICROS} "1"`],
    [{ micros: -5 }, 'micros', `${MICROS} -5`],
    [{ micros: 1.5 }, 'micros', `${MICROS} 1.5`]
  ] as const) {
    t.match(caught(() => metaIngest(base, options as never)), { code: 'SHOEBOX_INVALID_OPTION', option, reason }, JSON.stringify(options))
  }
})

t.test("metaIngest and squashHistory: lockWait '50ms' waits that long for a held lock, then says who holds it", async (t) => {
  const base = metadir(t)
  const held = await acquirePublishLock(base)
  t.teardown(async () => { await held.release() })
  const sink = metaIngest(base, { lockWait: '50ms', fsync: false })
  await t.rejects(pipeline(Readable.from([{ content_hash: 'u3' }]), sink), { code: 'SHOEBOX_META_LOCKED', message: /another publisher \(pid \d+ on .*\) holds the metadir; waited 50 ms/ })
  await t.rejects(squashHistory(base, { lockWait: '50ms' }), { code: 'SHOEBOX_META_LOCKED', message: /waited 50 ms/ })
})

t.test('squashHistory: lockWait, micros, prune and fsync refused before anything is written', async (t) => {
  const base = metadir(t)
  for (const [options, option, reason] of [
    [{ lockWait: '10 seconds' }, 'lockWait', `${DURATION} "10 seconds"`],
    [{ micros: NaN }, 'micros', `${MICROS} NaN`],
    [{ micros: 'x' }, 'micros', `${MICROS} "x"`],
    [{ prune: 'true' }, 'prune', 'must be true or false, got "true"'],
    [{ fsync: 0 }, 'fsync', 'must be true or false, got 0']
  ] as const) {
    await t.rejects(squashHistory(base, options as never), { code: 'SHOEBOX_INVALID_OPTION', option, reason }, JSON.stringify(options))
  }
  t.same((await listHistoryFiles(base)).map((f) => f.name), ['2026-01-01T00:00:00.000000.append'], 'nothing written')
})

t.test("a metadir's update(): now, progressEvery, replace and cleanup refused before the state db is touched", async (t) => {
  const base = metadir(t)
  const dir = await openMetadir(base)
  t.teardown(() => { dir.close() })
  for (const [options, option, reason] of [
    [{ now: 'yesterday' }, 'now', 'must be a Date, got "yesterday"'],
    [{ now: new Date(NaN) }, 'now', 'must be a Date, got Invalid Date'],
    [{ now: null }, 'now', 'must be a Date, got null'],
    // Stamped on every row as '+010000-01-01 00:00:00.000000', which mmmeta's next update cannot read back.
    [{ now: new Date('+010000-01-01T00:00:00Z') }, 'now', 'must be a time in the years 1 to 9999 (a DATETIME cell holds no other), got +010000-01-01T00:00:00.000Z'],
    [{ progressEvery: 0 }, 'progressEvery', 'must be a positive integer, got 0'],
    [{ progressEvery: '100' }, 'progressEvery', 'must be a positive integer, got "100"'],
    [{ replace: 'yes' }, 'replace', 'must be true or false, got "yes"'],
    [{ cleanup: 1 }, 'cleanup', 'must be true or false, got 1']
  ] as const) {
    await t.rejects(dir.update(options as never), { code: 'SHOEBOX_INVALID_OPTION', option, reason }, JSON.stringify(options))
  }
  t.equal(dir.files.count(), 0, 'nothing merged')
  t.same((await dir.update({ now: new Date(Date.UTC(2026, 0, 2)), progressEvery: 1 })).added, 2, 'good values still merge')
})

t.test("a metadir's files.find(): limit and highWaterMark refused when find() is called, not in SQLite", async (t) => {
  const base = metadir(t)
  const dir = await openMetadir(base)
  t.teardown(() => { dir.close() })
  await dir.update()
  for (const [options, option, reason] of [
    [{ limit: 'x' }, 'limit', 'must be a whole number, got "x"'],
    [{ limit: null }, 'limit', 'must be a whole number, got null'],
    [{ limit: -1 }, 'limit', 'must be a whole number, got -1'],
    [{ limit: Infinity }, 'limit', 'must be a whole number, got Infinity'],
    [{ highWaterMark: 0 }, 'highWaterMark', 'must be a positive integer, got 0'],
    [{ highWaterMark: 'x' }, 'highWaterMark', 'must be a positive integer, got "x"']
  ] as const) {
    t.match(caught(() => dir.files.find({}, options as never)), { code: 'SHOEBOX_INVALID_OPTION', option, reason }, JSON.stringify(options))
  }
  const rows = []
  for await (const row of dir.files.find({}, { limit: 1 })) rows.push(row)
  t.equal(rows.length, 1, 'limit 1 still finds one')
  const none = []
  for await (const row of dir.files.find({}, { limit: 0 })) none.push(row)
  t.equal(none.length, 0, 'limit 0 finds none')
})
