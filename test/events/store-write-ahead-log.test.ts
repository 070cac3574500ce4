/**
 * The event log's group commit: appends queued while a write is in flight
 * go out together in one writev (writevAll), byte for byte and in order,
 * and are read back the same after a reopen; writevAll itself over many
 * parts (more than one writev takes), empty and large ones.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
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

type HandleProto = {
  write: (this: fs.FileHandle, ...args: unknown[]) => Promise<{ bytesWritten: number }>
  writev: (this: fs.FileHandle, buffers: Buffer[], position?: number) => Promise<{ bytesWritten: number }>
  datasync: (this: fs.FileHandle) => Promise<void>
}

/** FileHandle's own methods, to change for a test (every handle shares them) and put back after. */
async function handleMethods (t: Test, dir: string): Promise<HandleProto> {
  const probe = await fs.open(dir, 'r')
  const proto = Object.getPrototypeOf(probe) as HandleProto
  await probe.close()
  const { write, writev, datasync } = proto
  t.teardown(() => { Object.assign(proto, { write, writev, datasync }) })
  return proto
}

function errno (code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall} failed`), { code, syscall })
}

const walRecord = (i: number): Buffer => encodeRecords([{ metadata: { n: String(i) }, payload: 'y'.repeat(300) }])

t.test('a full disk: the partly written appends are refused and cut off the file, and appends are taken again once there is room', async (t) => {
  const dir = t.testdir()
  const proto = await handleMethods(t, dir)
  const { log } = await WriteAheadLog.open(dir, 0, true, () => {})
  const applied: number[] = []
  await Promise.all([0, 1, 2].map(async (i) => { await log.append(walRecord(i), () => { applied.push(i) }) }))
  const file = path.join(dir, '0000000000.shoebox')
  const settled = (await fs.stat(file)).size

  // The disk fills half-way into the next write: part of it lands, then ENOSPC (as a filling disk does).
  const { write, writev } = proto
  let room = walRecord(3).length + 100
  proto.write = async function (this: fs.FileHandle, ...args: unknown[]) {
    const [data, offset, length] = args as [Buffer, number, number]
    if (room <= 0) throw errno('ENOSPC', 'write')
    const n = Math.min(length, room)
    room -= n
    return await write.call(this, data, offset, n)
  }
  proto.writev = async function (this: fs.FileHandle, buffers: Buffer[], position?: number) {
    if (room <= 0) throw errno('ENOSPC', 'writev')
    const parts: Buffer[] = []
    for (const b of buffers) {
      if (room <= 0) break
      parts.push(b.subarray(0, room))
      room -= Math.min(room, b.length)
    }
    return await writev.call(this, parts, position)
  }
  const refused = await Promise.allSettled([3, 4, 5].map(async (i) => { await log.append(walRecord(i), () => { applied.push(i) }) }))
  t.same(refused.map((r) => r.status), ['rejected', 'rejected', 'rejected'], 'the appends of the failed write are refused')
  t.match((refused[0] as PromiseRejectedResult).reason, { code: 'SHOEBOX_IO', message: /cannot append to event log .*0000000000\.shoebox: no space left on device \(ENOSPC\)/ })
  t.equal((await fs.stat(file)).size, settled, 'what the failed write left is cut off: the file ends at its last settled append')
  await t.rejects(log.append(walRecord(6), () => { applied.push(6) }), { code: 'SHOEBOX_IO' }, 'still full: refused, and cut back again')
  t.equal((await fs.stat(file)).size, settled)

  Object.assign(proto, { write, writev })
  await log.append(walRecord(7), () => { applied.push(7) })
  t.same(applied, [0, 1, 2, 7], 'with room again, appends are taken: no restart needed')
  await log.rotate(() => {})
  await log.append(walRecord(8), () => { applied.push(8) })
  await log.close()

  const replayed: string[] = []
  const reopened = await WriteAheadLog.open(dir, 0, true, (record) => { replayed.push(record.metadata.n) })
  t.same(replayed, ['0', '1', '2', '7', '8'], 'a restart replays what was acknowledged, and nothing refused')
  t.same(reopened.report, { files: [file, path.join(dir, '0000000001.shoebox')], records: 5, bytesDropped: 0, damaged: 0, damage: [] })
  await reopened.log.close()
})

t.test('a failed fsync is not recovered from: every later append is refused until the log is opened again', async (t) => {
  const dir = t.testdir()
  const proto = await handleMethods(t, dir)
  const { log } = await WriteAheadLog.open(dir, 0, true, () => {})
  await log.append(walRecord(0), () => {})
  const { datasync } = proto
  proto.datasync = async function () { throw errno('EIO', 'fdatasync') }
  await t.rejects(log.append(walRecord(1), () => {}), { code: 'SHOEBOX_IO', message: /i\/o error|EIO/i })
  proto.datasync = datasync
  await t.rejects(log.append(walRecord(2), () => {}), { code: 'SHOEBOX_IO' }, 'refused for good, even once fsync works')
  await log.close()
})

t.test('a log file shorter than the position the index names (gone, or cut): appends go to a new file, and a reopen at that position replays them', async (t) => {
  for (const [name, left] of [['the file is gone', null], ['the file is shorter', 100]] as const) {
    const dir = t.testdir()
    const from = { seq: 5, end: 1000 }
    if (left !== null) await fs.writeFile(path.join(dir, '0000000005.shoebox'), encodeRecords([{ metadata: { n: 'old' }, payload: 'z'.repeat(left) }]))
    const { log } = await WriteAheadLog.open(dir, from, true, () => {})
    for (let i = 0; i < 3; i++) await log.append(encodeRecords([{ metadata: { n: String(i) }, payload: 'x'.repeat(200) }]), () => {})
    await log.close()
    const replayed: string[] = []
    const reopened = await WriteAheadLog.open(dir, from, true, (record) => { replayed.push(String(record.metadata.n)) })
    t.same(replayed, ['0', '1', '2'], `${name}: every acknowledged append replayed`)
    await reopened.log.close()
  }
})
