/**
 * metaIngest() into an empty meta db takes its own path (fresh-scratch.ts:
 * no replay, one stored text per row). It must write what the replay path
 * writes: the same metadir run both ways (empty db/, and db/ holding one
 * header-only `.append`, which replays to no rows but takes the replay path)
 * gives the same counts and the same `.append`, byte for byte, for seeded
 * random objects with repeated uids, nulls, removed keys, bookkeeping keys,
 * falsy values, quotes, commas and newlines, unicode (astral uids too), and
 * more shapes than the fresh path numbers in memory.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { metaPaths } from '../../lib/meta/config.js'
import { loadHistory } from '../../lib/meta/history.js'
import { FreshScratch } from '../../lib/meta/fresh-scratch.js'
import { metaIngest, type MetaIngestOptions, type MetaIngestResult } from '../../lib/meta/ingest.js'
import { mulberry32 } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

const T1 = Date.UTC(2026, 11, 3, 10, 0, 0) * 1000

function metadir (t: Test): string {
  return tempDir(t, 'shoebox-meta-fresh-')
}

async function run (base: string, objects: object[], options: MetaIngestOptions): Promise<{ result: MetaIngestResult, text: string }> {
  const sink = metaIngest(base, { fsync: false, micros: T1, ...options })
  await pipeline(Readable.from(objects.map((o) => ({ ...o })), { objectMode: true }), sink)
  const result = sink.result as MetaIngestResult
  const text = result.file === null ? '' : fs.readFileSync(result.file.path, 'utf8')
  t.same(fs.readdirSync(metaPaths(base).metadir).filter((n) => n.startsWith('.')), [], 'no scratch file left')
  return { result, text }
}

/** The same objects into an empty db/ (fresh path) and into one with a header-only file (replay path). */
async function bothWays (t: Test, objects: object[], options: MetaIngestOptions = {}): Promise<void> {
  const fresh = metadir(t)
  const replay = metadir(t)
  fs.mkdirSync(metaPaths(replay).db, { recursive: true })
  fs.writeFileSync(path.join(metaPaths(replay).db, '2000-01-01T00:00:00.000000.append'), 'content_hash,__mmmeta_keys\r\n')
  for (const base of [fresh, replay]) {
    fs.mkdirSync(path.join(base, 'files'), { recursive: true })
    fs.writeFileSync(path.join(base, 'files', 'f1.pdf'), '')
  }
  const a = await run(fresh, objects, { ...options, filesRoot: path.join(fresh, 'files') })
  const b = await run(replay, objects, { ...options, filesRoot: path.join(replay, 'files') })
  t.same({ ...a.result, file: a.result.file?.rows }, { ...b.result, file: b.result.file?.rows }, 'same counts')
  t.equal(a.text, b.text, 'same .append, byte for byte')
  t.ok(a.text.length > 0 || objects.length === 0)
  const history = await loadHistory(fresh, { unique: 'content_hash' })
  t.equal(history.size, a.result.rows, 'mmmeta-style replay of the file gives every row')
}

function randomObjects (seed: number, count: number, uids: number, keyPool: number): object[] {
  const random = mulberry32(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]
  const values: unknown[] = ['x', '', '0', 0, false, true, null, '0012', 'a,b', 'say "hi"', 'line\nbreak\r\n', 'Grüße 𝄞', 'nul\u0000', 12345678901234567890n, [1, 'z'], -1.5]
  const ids = Array.from({ length: uids }, (_, i) => pick(['', 'é', '\uffff', '𝄞', 'Z', 'a']) + String(i).padStart(4, '0'))
  const keys = Array.from({ length: keyPool }, (_, i) => pick(['k', 'K', 'key-', 'ü', '__x', 'z']) + String(i))
  return Array.from({ length: count }, () => {
    const object: Record<string, unknown> = { content_hash: pick(ids), file_name: pick(['f1.pdf', 'gone.pdf']) }
    for (const key of keys) if (random() < 0.4) object[key] = pick(values)
    if (random() < 0.05) object.__deleted = pick(['1', '0', '', 'false'])
    if (random() < 0.05) object.__meta_added = 'given'
    if (random() < 0.1) object.nested = { 'a-b': pick(values), c: { d: pick(values) } }
    return object
  })
}

t.test('repeated uids, nulls, removed and bookkeeping keys: the same file both ways', async (t) => {
  await bothWays(t, randomObjects(1, 400, 150, 8))
})

t.test('ensure and ensure-files: the same file both ways', async (t) => {
  await bothWays(t, randomObjects(2, 300, 100, 6), { ensure: true, ensureFiles: true })
})

t.test('more shapes than are numbered in memory (keys stored with the row): the same file both ways', async (t) => {
  await bothWays(t, randomObjects(3, 6000, 5000, 24))
})

t.test('one object, and none', async (t) => {
  await bothWays(t, [{ content_hash: 'only', v: '' }])
  const base = metadir(t)
  const { result } = await run(base, [], {})
  t.same([result.added, result.file, result.rows], [0, null, 0])
})

t.test('FreshScratch: closed while its rows are being read (a run destroyed while writing): no throw, file gone', async (t) => {
  const base = metadir(t)
  fs.mkdirSync(metaPaths(base).metadir, { recursive: true })
  const scratch = await FreshScratch.open(base, 'content_hash')
  for (let i = 0; i < 200; i++) scratch.add(`u${i}`, { v: String(i) }, undefined, null)
  t.same(scratch.flush(), [])
  const rows = scratch.rows()
  t.equal(rows.next().value?.uid, 'u0')
  await scratch.close()
  t.notOk(fs.existsSync(scratch.file), 'scratch file removed')
})
