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
import { WriteAheadLog } from '../../lib/events/store/write-ahead-log.js'
import { writevAll } from '../../lib/fs/durable.js'

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

t.test('appends while syncs are in flight settle in log order, across rotations, and replay the same', async (t) => {
  const dir = t.testdir()
  const { log } = await WriteAheadLog.open(dir, 0, true, () => {})
  const applied: string[] = []
  const appends: Array<Promise<unknown>> = []
  const rotations: number[] = []
  // Waves of appends, each started when the one before is half settled: later writes and syncs overlap earlier ones.
  for (let wave = 0; wave < 6; wave++) {
    const settled: Array<Promise<void>> = []
    for (let i = 0; i < 40; i++) {
      const n = `${wave}.${i}`
      const bytes = encodeRecords([{ metadata: { n }, payload: 'y'.repeat(1 + ((wave * 40 + i) * 997) % 70_000) }])
      settled.push(log.append(bytes, () => { applied.push(n) }))
    }
    appends.push(...settled)
    if (wave === 2) appends.push(log.rotate(() => { applied.push('rotate') }).then((seq) => { rotations.push(seq) }))
    await Promise.all(settled.slice(0, 20))
  }
  await Promise.all(appends)
  const expected = [...Array(6).keys()].flatMap((w) => [...Array(40).keys()].map((i) => `${w}.${i}`))
  expected.splice(3 * 40, 0, 'rotate')
  t.same(applied, expected, 'applied once each, in log order, the rotation between its neighbours')
  t.same(rotations, [1])
  await log.close()
  const replayed: string[] = []
  const reopened = await WriteAheadLog.open(dir, 0, true, (record) => { replayed.push(record.metadata.n) })
  t.same(replayed, expected.filter((n) => n !== 'rotate'), 'the files hold the same records in the same order')
  t.same(reopened.report.files.map((f) => path.basename(f)), ['0000000000.shoebox', '0000000001.shoebox'])
  await reopened.log.close()
})

t.test('a failed write refuses that group, everything queued and every later append; what was settled stays', async (t) => {
  const dir = t.testdir()
  const { log } = await WriteAheadLog.open(dir, 0, true, () => {})
  const applied: number[] = []
  const record = (i: number): Buffer => encodeRecords([{ metadata: { n: String(i) }, payload: 'z'.repeat(100) }])
  await Promise.all([0, 1, 2].map(async (i) => { await log.append(record(i), () => { applied.push(i) }) }))
  // The next log file is a device where every write fails (ENOSPC): a real failing write, no mock.
  await fs.symlink('/dev/full', path.join(dir, '0000000001.shoebox'))
  t.equal(await log.rotate(() => {}), 1)
  const outcomes = await Promise.allSettled([3, 4, 5, 6].map(async (i) => { await log.append(record(i), () => { applied.push(i) }) }))
  for (const o of outcomes) {
    t.equal(o.status, 'rejected')
    if (o.status === 'rejected') {
      t.equal((o.reason as { code?: string }).code, 'SHOEBOX_IO')
      t.match((o.reason as Error).message, /0000000001\.shoebox/, 'the error names the log file')
    }
  }
  await t.rejects(log.append(record(7), () => { applied.push(7) }), { code: 'SHOEBOX_IO' }, 'a later append is refused at once')
  t.same(applied, [0, 1, 2], 'only the appends that were written and synced were applied')
  await log.close()
})
