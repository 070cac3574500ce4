/**
 * Issue 9, A3: a `from` position that names no listed file, or lies past its
 * file's end, is an error naming it, never a silent skip.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t from 'tap'
import { archiveSource, encodeRecords, type ArchiveSourceOptions, type ShoeboxRecord } from '../../lib/index.js'
import { cli } from '../cli-run.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-position-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const archive = (prefix: string, n: number): Buffer => encodeRecords(Array.from({ length: n }, (_, i) => ({ payload: `${prefix}${i}` })))
const dir = path.join(tmp, 'd')
fs.mkdirSync(dir)
fs.writeFileSync(path.join(dir, 'a.shoebox'), archive('a', 10))
fs.writeFileSync(path.join(dir, 'b.shoebox.gz'), zlib.gzipSync(archive('b', 10)))
fs.writeFileSync(path.join(dir, 'c.shoebox'), archive('c', 10))
const plainSize = archive('a', 10).length
const gzipDecompressed = archive('b', 10).length

async function read (options: ArchiveSourceOptions): Promise<{ payloads: string[], error: unknown }> {
  const payloads: string[] = []
  try {
    for await (const record of archiveSource(path.join(dir, '*'), options)) payloads.push((record as ShoeboxRecord).payload.toString())
  } catch (error) {
    return { payloads, error }
  }
  return { payloads, error: null }
}

t.test('a file that is not listed (a typo, or gone) is an error naming it', async (t) => {
  for (const order of ['name', 'mtime'] as const) {
    const { payloads, error } = await read({ from: { file: 'bb.shoebox', offset: 0 }, order })
    t.same(payloads, [], `order ${order}: nothing read`)
    t.match(error, { code: 'SHOEBOX_NOT_FOUND', message: /from: no archive named bb\.shoebox matches .*\/d\/\* \(a position names its file relative to .*\/d, as positions print it\)/ }, `order ${order}`)
  }
})

t.test('with --order mtime and follow, a gone file fails at once instead of skipping every file forever', { timeout: 20000 }, async (t) => {
  const { payloads, error } = await read({ from: { file: 'gone.shoebox', offset: 0 }, order: 'mtime', follow: true, pollInterval: 50 })
  t.same(payloads, [])
  t.match(error, { code: 'SHOEBOX_NOT_FOUND', message: /gone\.shoebox/ })
})

t.test('an offset past the end of a plain file is an error naming file and offset', async (t) => {
  const { payloads, error } = await read({ from: { file: 'a.shoebox', offset: 99999999999 } })
  t.same(payloads, [])
  t.match(error, { code: 'SHOEBOX_NOT_FOUND', message: `from: ${path.join(dir, 'a.shoebox')}: offset 99999999999 is past the end of the archive (${plainSize} bytes)` })
  const atEnd = await read({ from: { file: 'a.shoebox', offset: plainSize } })
  t.equal(atEnd.error, null, 'the end itself is no error: nothing more in that file')
  t.same(atEnd.payloads, [...Array.from({ length: 10 }, (_, i) => `b${i}`), ...Array.from({ length: 10 }, (_, i) => `c${i}`)])
})

t.test('an offset past the end of a gzip file\'s decompressed bytes is an error', async (t) => {
  const { payloads, error } = await read({ from: { file: 'b.shoebox.gz', offset: gzipDecompressed + 1 } })
  t.same(payloads, [])
  t.match(error, { code: 'SHOEBOX_NOT_FOUND', message: `from: ${path.join(dir, 'b.shoebox.gz')}: offset ${gzipDecompressed + 1} is past the end of the archive (${gzipDecompressed} bytes)` })
})

t.test('shoebox read --from: one stderr line, exit 1', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['zz.shoebox:0', /^shoebox read: --from: no archive named zz\.shoebox matches /],
    ['a.shoebox:99999999999', /^shoebox read: --from: .*a\.shoebox: offset 99999999999 is past the end/],
    [`b.shoebox.gz:${gzipDecompressed + 100}`, /^shoebox read: --from: .*b\.shoebox\.gz: offset \d+ is past the end/]
  ]
  for (const [from, line] of cases) {
    const r = await cli(['read', path.join(dir, '*'), '--from', from, '--payload-only'])
    t.equal(r.stdout.toString(), '', from)
    t.match(r.stderr, line, from)
    t.equal(r.stderr.split('\n').length, 2, `${from}: one line`)
    t.equal(r.code, 1, from)
  }
})
