/**
 * The text form of positions (position-text.ts): FILE:OFFSET and
 * FILE:OFFSET@MEMBER+SKIP, read from the end so names holding ':', '@' and
 * '+' (S3 keys) come back unchanged; `read --from` takes either form.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, rollingSink, type Position, type ShoeboxRecord } from '../../lib/index.js'
import { formatPosition, parsePositionText } from '../../lib/source/position-text.js'
import { cli, jsonLines } from '../cli-run.js'

t.test('format and parse are inverse, whatever the file name holds', async (t) => {
  const files = ['a.shoebox', 'logs/2026-12-03T13:45:00.shoebox.gz', 'x:1@2+3', 'x:1', 'f@3+4', ':', 'ü ✓\nneu', '1']
  const numbers: Array<Omit<Position, 'file'>> = [
    { offset: 0 },
    { offset: 9007199254740991 },
    { offset: 123456, member: { offset: 0, skip: 0 } },
    { offset: 123456, member: { offset: 98765, skip: 123456 } }
  ]
  for (const file of files) {
    for (const n of numbers) {
      const position = { file, ...n }
      const text = formatPosition(position)
      t.same(parsePositionText(text), position, JSON.stringify(text))
    }
  }
  t.equal(formatPosition({ file: 'f.gz', offset: 70, member: { offset: 30, skip: 5 } }), 'f.gz:70@30+5')
  t.equal(formatPosition({ file: 'f', offset: 70 }), 'f:70')
})

t.test('what is not a position is refused, naming where it came from', async (t) => {
  for (const bad of ['', 'f', ':5', 'f:', 'f:-1', 'f:1.5', 'f:5@', 'f:5@1', 'f:5@1+', 'f:5@+1', 'f:5@1+6', 'f:99999999999999999999', 'f:5 ']) {
    t.throws(() => parsePositionText(bad, '_position'), { code: 'SHOEBOX_INVALID_OPTION', message: /^_position/ }, JSON.stringify(bad))
  }
})

t.test('read --from takes the member form and starts at that member', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-position-text-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const input = Array.from({ length: 400 }, (_, n) => ({ metadata: { n: String(n) }, payload: 'x'.repeat(n) }))
  await pipeline(Readable.from(input), rollingSink({ dir, gzip: true, blockSize: 4096, flushInterval: 0 }))
  const records: ShoeboxRecord[] = []
  for await (const r of archiveSource(path.join(dir, '*.gz'), { positions: true })) records.push(r as ShoeboxRecord)
  const from = records[300].position as Position
  t.ok(from.member !== undefined && from.member.offset > 0, 'a member after the first')
  const got = await cli(['read', path.join(dir, '*.gz'), '--from', formatPosition(from)])
  t.equal(got.code, 0, got.stderr.toString())
  t.same(jsonLines(got.stdout).map((l) => (l as ShoeboxRecord).metadata.n), records.slice(301).map((r) => r.metadata.n))
  const bad = await cli(['read', path.join(dir, '*.gz'), '--from', 'f:5@1+6'])
  t.equal(bad.code, 2)
  t.match(bad.stderr.toString(), /--from: 'f:5@1\+6' skips 6 bytes of its member, more than its offset 5/)
})
