/**
 * `shoebox ship` with gzip or zstd on stdin ships the lines of the text
 * (before, each piece of compressed bytes between 0x0a was a bad line). A
 * torn input ships every whole line before the tear, then fails with one
 * line naming stdin, the compressed offset and what was shipped; zstd
 * where this install has none is SHOEBOX_UNSUPPORTED naming stdin.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import zlib from 'node:zlib'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { chunked, withoutZstd } from '../helpers.js'
import { startCollector } from '../events/fixtures/collector.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-compressed-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const TEXT = Buffer.from(Array.from({ length: 2000 }, (_, seq) => JSON.stringify({ seq, pad: 'p'.repeat(seq % 97) }) + '\n').join(''))

function collect (into: Buffer[]): Writable {
  return new Writable({ write (chunk: Buffer, _e, cb) { into.push(Buffer.from(chunk)); cb() } })
}

/** ship with `input` on stdin: a pipe in chunks of `how` bytes, or a regular file (read by its descriptor, as processIo gives it). */
async function ship (url: string, input: Buffer, how: number | 'file'): Promise<{ code: number, stderr: string }> {
  const err: Buffer[] = []
  const args = ['ship', url, '--stream', 's']
  if (how !== 'file') {
    const code = await main(args, { stdin: Readable.from(chunked(input, how)), stdout: collect([]), stderr: collect(err) })
    return { code, stderr: Buffer.concat(err).toString('utf8') }
  }
  const file = path.join(tmp, `in-${Math.random().toString(36).slice(2)}`)
  fs.writeFileSync(file, input)
  const fd = fs.openSync(file, 'r')
  try {
    const code = await main(args, { stdin: fs.createReadStream(file), stdout: collect([]), stderr: collect(err), stdinFile: fd })
    return { code, stderr: Buffer.concat(err).toString('utf8') }
  } finally {
    fs.closeSync(fd)
  }
}

t.test('gzip, multi-member gzip and zstd on stdin: every line shipped once, from a pipe and a file', async (t) => {
  const half = TEXT.indexOf('\n', TEXT.length / 2) - 5 // inside a line
  const forms: Array<[string, Buffer]> = [
    ['gzip', zlib.gzipSync(TEXT)],
    ['gzip, two members', Buffer.concat([zlib.gzipSync(TEXT.subarray(0, half)), zlib.gzipSync(TEXT.subarray(half))])],
    ['zstd, two frames', Buffer.concat([await zstdFrame(TEXT.subarray(0, half), 3), await zstdFrame(TEXT.subarray(half), 3)])]
  ]
  for (const [form, bytes] of forms) {
    for (const how of [7, 'file'] as const) {
      const collector = await startCollector()
      t.teardown(async () => { await collector.stop() })
      const r = await ship(collector.url, bytes, how)
      t.equal(r.code, 0, `${form}, ${how}: ${r.stderr}`)
      t.match(r.stderr, /^shoebox ship: shipped 2000 events /)
      t.same(collector.stored.map((e) => e.event.seq as number).sort((a, b) => a - b), Array.from({ length: 2000 }, (_, i) => i), `${form}, ${how}: each line once`)
    }
  }
})

t.test('a torn gzip input: the whole lines before the tear are shipped, then one line naming stdin and the offset, exit 1', async (t) => {
  const gz = zlib.gzipSync(TEXT)
  const torn = gz.subarray(0, Math.floor(gz.length / 2))
  const inflated = zlib.gunzipSync(torn, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8')
  const whole = inflated.slice(0, inflated.lastIndexOf('\n') + 1).split('\n').length - 1
  t.ok(whole > 100 && whole < 2000, `the tear is inside the input (${whole} whole lines before it)`)
  for (const how of [1000, 'file'] as const) {
    const collector = await startCollector()
    t.teardown(async () => { await collector.stop() })
    const r = await ship(collector.url, torn, how)
    t.equal(r.code, 1)
    t.same(collector.stored.map((e) => e.event.seq as number).sort((a, b) => a - b), Array.from({ length: whole }, (_, i) => i), `${how}: every whole line before the tear`)
    t.match(r.stderr, new RegExp(`^shoebox ship: stdin: at byte ${torn.length}: bad-compression: gzip data is cut short .*; the lines before it: shipped ${whole} events .*; the last line it cut \\(\\d+ bytes?\\) not shipped\\n$`))
  }
})

t.test('zstd on stdin where this install has none (SHOEBOX_ZSTD=0): SHOEBOX_UNSUPPORTED naming stdin, nothing shipped', async (t) => {
  const zst = await zstdFrame(TEXT, 3)
  withoutZstd(t)
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const r = await ship(collector.url, zst, 4096)
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox ship: stdin: zstd is not available in this install .*\n$/)
  t.equal(collector.stored.length, 0)
})
