import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'
import { cli } from '../cli-run.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-stop-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const COUNT = 3000
const dir = path.join(tmp, 'damaged')
fs.mkdirSync(dir)
// One chunk holds every record and then the damage, so the records before it are
// decoded in the same step that finds it: a slow consumer still has most of them ahead.
fs.writeFileSync(path.join(dir, 'a.shoebox'), Buffer.concat([
  encodeRecords(Array.from({ length: COUNT }, (_, i) => ({ payload: String(i) }))),
  Buffer.from('this is not a record')
]))
fs.writeFileSync(path.join(dir, 'b.shoebox'), encodeRecords([{ payload: 'next file' }]))

function slowSink (seen: string[]): Writable {
  return new Writable({
    objectMode: true,
    highWaterMark: 1,
    write (record: ShoeboxRecord, _encoding, callback) {
      seen.push(record.payload.toString())
      setImmediate(callback)
    }
  })
}

t.test('strict: every record decoded before the damage reaches a slow consumer, then the error', async (t) => {
  const source = archiveSource(path.join(dir, '*'))
  const seen: string[] = []
  await t.rejects(pipeline(source, slowSink(seen)), { code: 'SHOEBOX_BAD_MAGIC', file: path.join(dir, 'a.shoebox') })
  t.same(seen, Array.from({ length: COUNT }, (_, i) => String(i)), 'all records before the damage, none after, nothing of the next file')
})

t.test('strict shoebox read prints every record before the damage, then one error line', async (t) => {
  const r = await cli(['read', path.join(dir, '*'), '--payload-only'])
  t.equal(r.code, 1)
  t.equal(r.stdout.toString(), Array.from({ length: COUNT }, (_, i) => `${i}\n`).join(''))
  t.match(r.stderr, /a\.shoebox: at byte \d+: bad-magic/)
})

t.test('files follow each other in order even when a slow consumer leaves records waiting at a file boundary', async (t) => {
  const ordered = path.join(tmp, 'ordered')
  fs.mkdirSync(ordered)
  for (const [n, name] of ['f1', 'f2', 'f3'].entries()) {
    fs.writeFileSync(path.join(ordered, `${name}.shoebox`), encodeRecords(Array.from({ length: 2000 }, (_, i) => ({ payload: `${n}:${i}` }))))
  }
  const source = archiveSource(path.join(ordered, '*.shoebox'))
  const ends: Array<{ name: string, records: number }> = []
  source.on('fileEnd', (e: { name: string, records: number }) => ends.push({ name: e.name, records: e.records }))
  const seen: string[] = []
  await pipeline(source, slowSink(seen))
  t.same(seen, [0, 1, 2].flatMap((n) => Array.from({ length: 2000 }, (_, i) => `${n}:${i}`)))
  t.same(ends, [{ name: 'f1.shoebox', records: 2000 }, { name: 'f2.shoebox', records: 2000 }, { name: 'f3.shoebox', records: 2000 }])
})
