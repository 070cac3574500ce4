import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, encodeRecords, gunzip, gzip, type ShoeboxRecord } from '../../lib/index.js'
import { cli } from '../cli-run.js'
import { chunked } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-compress-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

async function through (chunks: Buffer[], stage: NodeJS.ReadWriteStream): Promise<Buffer> {
  const out: Buffer[] = []
  await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer | string>) => {
    for await (const b of source) out.push(Buffer.from(b))
  })
  return Buffer.concat(out)
}

const archive = encodeRecords(Array.from({ length: 300 }, (_, i) => ({ metadata: { i: String(i) }, payload: { i, pad: 'x'.repeat(i % 50) } })))

t.test('gunzip passes plain bytes through and decompresses gzip, multi-member too, in any chunking', async (t) => {
  const members = Buffer.concat([zlib.gzipSync(archive.subarray(0, 5000)), zlib.gzipSync(archive.subarray(5000))])
  for (const size of [1, 2, 3, 1000, archive.length]) {
    t.ok((await through(chunked(archive, size), gunzip())).equals(archive), `plain, chunks of ${size}`)
    t.ok((await through(chunked(members, size), gunzip())).equals(archive), `two members, chunks of ${size}`)
  }
  t.same(await through([], gunzip()), Buffer.alloc(0), 'empty input')
  t.same(await through([Buffer.from([0x1f])], gunzip()), Buffer.from([0x1f]), 'one byte that only starts like gzip')
})

t.test('gzip() then gunzip() round-trips', async (t) => {
  const compressed = await through([archive], gzip({ level: 1 }))
  t.equal(compressed[0], 0x1f)
  t.ok((await through([compressed], gunzip())).equals(archive))
  t.throws(() => gzip({ level: 12 }), { code: 'SHOEBOX_INVALID_OPTION' })
})

t.test('damaged gzip is a typed error naming where, in every reader', async (t) => {
  const whole = zlib.gzipSync(archive)
  const cut = whole.subarray(0, Math.floor(whole.length / 2))
  await t.rejects(through([cut], gunzip()), { code: 'SHOEBOX_BAD_COMPRESSION', reason: 'bad-compression', offset: cut.length })
  const dir = path.join(tmp, 'damaged')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'a.shoebox.gz'), cut)
  fs.writeFileSync(path.join(dir, 'b.shoebox'), encodeRecords([{ payload: 'after' }]))
  const file = path.join(dir, 'a.shoebox.gz')

  const verify = await cli(['verify', file])
  t.equal(verify.code, 1)
  t.match(verify.stdout.toString(), `${file}: DAMAGED:`)
  t.match(verify.stdout.toString(), `at compressed byte ${cut.length}: bad-compression`)

  const decode = await cli(['decode', file])
  t.equal(decode.code, 1)
  t.match(decode.stderr, `${file}: at byte ${cut.length}: bad-compression`)

  const ls = await cli(['ls', path.join(dir, '*')])
  t.match(ls.stdout.toString(), /a\.shoebox\.gz\t\d+ records.*DAMAGED \(gzip damaged/)
  t.equal(ls.code, 1, 'ls exits 1 when it marks a file DAMAGED')

  const strict = archiveSource(path.join(dir, '*'))
  const before: string[] = []
  await t.rejects(async () => { for await (const r of strict) before.push((r as ShoeboxRecord).payload.toString()) }, { code: 'SHOEBOX_BAD_COMPRESSION', file })

  const lenient = archiveSource(path.join(dir, '*'), { mode: 'lenient' })
  const corrupt: Array<{ reason: string, path: string }> = []
  lenient.on('corrupt', (c: { reason: string, path: string }) => corrupt.push(c))
  const payloads: string[] = []
  for await (const r of lenient) payloads.push((r as ShoeboxRecord).payload.toString())
  t.equal(payloads.at(-1), 'after', 'the next file is still read')
  t.ok(payloads.length > 1, 'records before the damage came through')
  t.ok(before.length > 0, `strict: records before the damage came through (${before.length})`)
  t.same(before, payloads.slice(0, -1), 'strict: the same records as lenient, up to the damage')
  t.match(corrupt, [{ reason: 'bad-compression', path: file }])
})
