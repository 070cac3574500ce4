/**
 * FileWindow (fs/file-window.ts): a file of any size read in bounded
 * windows, for recovery's scan. Every stretch asked for is the file's own
 * bytes, wherever it falls against the windows; find() sees a pattern
 * straddling two windows; a scan reads each byte about once (asking for a
 * window at each step read 8 MiB again for each ~300 KB zstd frame); a file
 * cut while it is read is an error naming it, not a short answer.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { FileWindow } from '../../lib/fs/file-window.js'
import { tempDir } from '../fixtures-roll/util.js'

const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7 + (i >> 3)) & 0xff))

/** `data` in a file, opened, with its reads counted (the real file, its real reads). */
async function open (t: Test, bytes: Buffer, window: number): Promise<{ file: FileWindow, read: () => number, name: string }> {
  const name = path.join(tempDir(t), 'f')
  fs.writeFileSync(name, bytes)
  const handle = await fsp.open(name, 'r')
  t.teardown(async () => { await handle.close() })
  let read = 0
  const real = handle.read.bind(handle)
  const counted = Object.assign(Object.create(handle) as fsp.FileHandle, {
    read: async (buffer: Buffer, offset: number, length: number, position: number) => {
      const out = await real(buffer, offset, length, position)
      read += out.bytesRead
      return out
    }
  })
  return { file: new FileWindow(counted, name, bytes.length, window), read: () => read, name }
}

for (const window of [1, 7, 64, 999, 1000, 4096]) {
  t.test(`window ${window}: every stretch is the file's own bytes, at least as many as asked or up to the end`, async (t) => {
    const { file } = await open(t, data, window)
    for (const at of [0, 1, 6, 7, 63, 64, 65, 500, 998, 999, 1000]) {
      for (const n of [0, 1, 2, 7, 64, 300, 2000]) {
        const view = await file.bytes(at, n)
        const want = Math.min(n, data.length - at)
        t.ok(view.length >= want, `${view.length} bytes at ${at} for ${n}`)
        if (!view.equals(data.subarray(at, at + view.length))) t.fail(`bytes at ${at} (${n} asked, window ${window}) are not the file's`)
      }
    }
  })
}

t.test('find(): a pattern at every offset, straddling window edges, and not there at all', async (t) => {
  const pattern = Buffer.from([0xfe, 0xed, 0xfa, 0xce])
  for (const window of [4, 5, 16, 100]) {
    for (const at of [0, 1, 2, 3, 4, 5, 13, 14, 15, 16, 17, 96, 97, 98, 99, 100, 196]) {
      const bytes = Buffer.alloc(200, 0x11)
      pattern.copy(bytes, at)
      const { file } = await open(t, bytes, window)
      t.equal(await file.find(pattern, 0), at, `at ${at}, window ${window}`)
      t.equal(await file.find(pattern, at + 1), -1, `none after ${at}, window ${window}`)
    }
  }
  const { file } = await open(t, Buffer.alloc(3, 0xfe), 16)
  t.equal(await file.find(pattern, 0), -1, 'a file shorter than the pattern')
})

t.test('a scan from occurrence to occurrence reads each byte about once', async (t) => {
  // A pattern every 100 bytes, in windows of 1000: each step asks for the pattern's length only.
  const bytes = Buffer.alloc(100_000, 0x11)
  for (let at = 0; at < bytes.length; at += 100) bytes[at] = 0xab
  const { file, read } = await open(t, bytes, 1000)
  let found = 0
  for (let at = await file.find(Buffer.from([0xab]), 0); at >= 0; at = await file.find(Buffer.from([0xab]), at + 1)) found++
  t.equal(found, 1000)
  t.equal(read(), bytes.length, 'every byte read once')
})

t.test('a file cut while it is read: SHOEBOX_IO naming it, not a short answer', async (t) => {
  const { file, name } = await open(t, data, 100)
  fs.truncateSync(name, 500)
  await t.rejects(file.bytes(450, 100), { code: 'SHOEBOX_IO', message: `cannot read ${name}: it ends at byte 500, and was 1000 bytes when opened (changed while being read); left as it is` })
})
