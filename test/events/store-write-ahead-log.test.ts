/**
 * The event log's group commit: appends queued while a write is in flight
 * go out together in one writev (writevAll), byte for byte and in order,
 * and are read back the same after a reopen; writevAll itself over many
 * parts (more than one writev takes), empty and large ones.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { encodeRecords } from '../../lib/format/encoder.js'
import { WriteAheadLog, writevAll } from '../../lib/events/store/write-ahead-log.js'

t.test('writevAll writes every part in order: 3000 parts, empty ones, one of 8 MiB', async (t) => {
  const dir = t.testdir()
  const parts: Buffer[] = []
  for (let i = 0; i < 3000; i++) parts.push(Buffer.from(i % 7 === 0 ? '' : `part ${i};`))
  parts.splice(1500, 0, Buffer.alloc(8 * 1024 * 1024, 0x61))
  const copy = [...parts]
  const handle = await fs.open(path.join(dir, 'out'), 'a')
  await writevAll(handle, parts)
  await handle.close()
  const written = await fs.readFile(path.join(dir, 'out'))
  t.ok(written.equals(Buffer.concat(parts)), 'the file is the parts, concatenated')
  t.same(parts, copy, 'the list given is not changed')
})

t.test('appends queued behind a write are committed together and replayed in order', async (t) => {
  const dir = t.testdir()
  const { log } = await WriteAheadLog.open(dir, 0, true, () => {})
  const applied: number[] = []
  const appends: Array<Promise<void>> = []
  for (let i = 0; i < 200; i++) {
    const bytes = encodeRecords([{ metadata: { n: String(i) }, payload: 'x'.repeat(i) }])
    appends.push(log.append(bytes, () => { applied.push(i) }))
  }
  await Promise.all(appends)
  t.same(applied, [...Array(200).keys()], 'applied in log order, each after its fsync')
  await log.close()
  const replayed: string[] = []
  const reopened = await WriteAheadLog.open(dir, 0, true, (record) => { replayed.push(`${record.metadata.n}:${record.payload.length}`) })
  t.same(replayed, [...Array(200).keys()].map((i) => `${i}:${i}`), 'every record back, in order')
  t.equal(reopened.report.bytesDropped, 0)
  await reopened.log.close()
})
