/**
 * GrowingFile (lib/roll/growing-file.ts): a file still being appended to,
 * copied into a writer through two reused read buffers. On real files:
 *
 * - bytes written in uneven steps (growth told after each) reach the writer
 *   whole and in order, through no more than two buffers, however slowly the
 *   writer calls back;
 * - a sealed file (end() at once, the uploader's case), and an empty one;
 * - a final size below what was written, or a file shorter than told, fails
 *   naming the file, and the writer is destroyed;
 * - destroy() stops the copy and destroys the writer.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { GrowingFile } from '../../lib/roll/growing-file.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-growing-file-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
let files = 0

/** A writer that copies each chunk, then calls back a turn later (as a store's writer: copied before the callback). */
function collector (): { writer: Writable, bytes: () => Buffer, buffers: Set<ArrayBufferLike> } {
  const copies: Buffer[] = []
  const buffers = new Set<ArrayBufferLike>()
  const writer = new Writable({
    highWaterMark: 1,
    write (chunk: Buffer, _encoding, callback) {
      buffers.add(chunk.buffer)
      copies.push(Buffer.from(chunk))
      setImmediate(callback)
    }
  })
  return { writer, bytes: () => Buffer.concat(copies), buffers }
}

function openFile (): { file: string, fd: number, append: (b: Buffer) => void } {
  const file = path.join(tmp, `f${files++}`)
  fs.writeFileSync(file, '')
  const out = fs.openSync(file, 'a')
  t.teardown(() => { fs.closeSync(out) })
  return { file, fd: fs.openSync(file, 'r'), append: (b) => { fs.writeSync(out, b) } }
}

t.test('a growing file reaches the writer whole and in order, through two reused buffers', async (t) => {
  const { file, fd, append } = openFile()
  const { writer, bytes, buffers } = collector()
  const copy = new GrowingFile(file, fd, writer)
  const data = randomBytes(5 * 1024 * 1024 + 12345)
  let at = 0
  // Uneven steps, each told once written, some while earlier reads are still under way.
  for (const step of [1, 700_000, 1024 * 1024, 3, 2 * 1024 * 1024 + 17]) {
    append(data.subarray(at, at + step))
    at += step
    copy.grow(at)
    await new Promise((resolve) => setImmediate(resolve))
  }
  append(data.subarray(at))
  copy.end(data.length)
  await copy.done
  t.ok(bytes().equals(data), 'every byte, in order')
  t.ok(buffers.size <= 2, `read into ${buffers.size} buffers`)
})

t.test('a sealed file, and an empty one', async (t) => {
  const { file, fd, append } = openFile()
  const data = randomBytes(3 * 1024 * 1024 + 1)
  append(data)
  const { writer, bytes } = collector()
  const copy = new GrowingFile(file, fd, writer)
  copy.end(data.length)
  await copy.done
  t.ok(bytes().equals(data))

  const empty = openFile()
  const out = collector()
  const none = new GrowingFile(empty.file, empty.fd, out.writer)
  none.end(0)
  await none.done
  t.equal(out.bytes().length, 0)
  t.ok(out.writer.writableFinished, 'the writer was ended')
})

t.test('a final size below what was written fails, naming the file', async (t) => {
  const { file, fd, append } = openFile()
  append(randomBytes(1000))
  const { writer } = collector()
  const copy = new GrowingFile(file, fd, writer)
  copy.grow(1000)
  copy.end(10)
  await t.rejects(copy.done, { message: new RegExp(`${path.basename(file)}.*holds 10 bytes, 1000 were written`) })
  t.ok(writer.destroyed)
})

t.test('a file shorter than told fails, naming the file and the byte', async (t) => {
  const { file, fd, append } = openFile()
  append(randomBytes(1000))
  const { writer } = collector()
  const copy = new GrowingFile(file, fd, writer)
  copy.end(5000)
  await t.rejects(copy.done, { message: new RegExp(`${path.basename(file)}.*ends at byte 1000, 5000 were written`) })
  t.ok(writer.destroyed)
})

t.test('destroy() stops the copy and destroys the writer', async (t) => {
  const { file, fd, append } = openFile()
  append(randomBytes(4 * 1024 * 1024))
  const { writer, bytes } = collector()
  const copy = new GrowingFile(file, fd, writer)
  copy.grow(4 * 1024 * 1024)
  copy.destroy(new Error('stopped here'))
  await t.rejects(copy.done, { message: 'stopped here' })
  t.ok(writer.destroyed)
  t.ok(bytes().length < 4 * 1024 * 1024, 'not every byte was copied')
})
