/**
 * pack() and names that are not UTF-8. The walk (fs/walk.ts) opens such a
 * name by its bytes, but a record's `path` is text: packed under the name as
 * it decodes (each bad byte as U+FFFD), it would unpack as another file. So
 * each is skipped as an unsafe name, saying why, and the rest is packed.
 * (Before the pack walk was walk()'s, such a file was opened by its decoded
 * name, which names nothing, and skipped as 'vanished'.)
 */
import fs from 'node:fs'
import t from 'tap'
import { packFiles, type PackRecord, type SkippedEntry } from '../../lib/pack/pack-source.js'

t.test('a file or directory whose name is not UTF-8 is skipped as an unsafe name, the rest packed', async (t) => {
  const root = t.testdir({ 'ok.txt': 'ok' })
  const bad = (name: string): Buffer => Buffer.concat([Buffer.from(`${root}/${name}`), Buffer.from([0xfe])])
  fs.writeFileSync(bad('bad'), 'bad')
  fs.mkdirSync(bad('d'))
  fs.writeFileSync(Buffer.concat([bad('d'), Buffer.from('/e')]), 'e')
  const source = packFiles(root)
  const skipped: SkippedEntry[] = []
  source.on('skip', (entry: SkippedEntry) => { skipped.push(entry) })
  const records: PackRecord[] = []
  for await (const record of source) records.push(record as PackRecord)
  t.same(records.map((r) => r.metadata[0]), [['path', 'ok.txt']], 'the file with a UTF-8 name is packed')
  t.same(skipped.map((s) => [s.path, s.reason]), [['bad\uFFFD', 'unsafe name'], ['d\uFFFD/e', 'unsafe name']], 'each other file is skipped, named as it decodes')
  for (const entry of skipped) t.match(entry.detail, /not valid UTF-8/, `${entry.path}: the detail says why`)
  t.equal(source.skipped, 2)
})
