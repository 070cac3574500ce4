/**
 * startWriteback() (lib/fs/writeback.ts): the addon's sync_file_range where
 * it is built (Linux), fdatasync elsewhere and where the call does not apply
 * to the file (a FIFO), and a real failure passed on as an errno error.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startWriteback } from '../../lib/fs/writeback.js'
import { loadNative, loadNativeWriteback } from '../../lib/native.js'
import { tempDir } from '../temp-dir.js'

// In the checkout (tempDir), on the disk the archives go to, not a tmpfs /tmp.
const tmp = tempDir(t, 'shoebox-writeback-')

const native = loadNativeWriteback()

/** A file of `bytes` written through a handle left open, whose datasync() calls are counted. */
async function openWritten (t: Test, name: string, bytes: Buffer): Promise<{ handle: fsp.FileHandle, datasyncs: () => number }> {
  const handle = await fsp.open(path.join(tmp, name), 'w+')
  t.teardown(async () => { await handle.close().catch(() => {}) })
  await handle.write(bytes, 0, bytes.length, 0)
  let calls = 0
  const datasync = handle.datasync.bind(handle)
  handle.datasync = async () => { calls++; await datasync() }
  return { handle, datasyncs: () => calls }
}

const content = Buffer.alloc(3 * 1024 * 1024 + 17, 'shoebox ')

t.test('the addon has sync_file_range where it is built on Linux', async (t) => {
  if (process.platform !== 'linux' || loadNative() === null) {
    t.equal(native, null, 'not built (or not Linux): fdatasync is used')
    return
  }
  t.type(native?.startWriteback, 'function')
})

t.test('sync_file_range: the range is queued without an fdatasync, and the file is whole', async (t) => {
  const { handle, datasyncs } = await openWritten(t, 'native', content)
  await startWriteback(handle, 0, content.length)
  await startWriteback(handle, 1024, 4096) // a part of it again
  await startWriteback(handle, content.length, 0) // nothing: from the end to the end
  t.equal(datasyncs(), native === null ? 3 : 0, native === null ? 'no addon: fdatasync each time' : 'no fdatasync')
  await handle.sync()
  t.ok(fs.readFileSync(path.join(tmp, 'native')).equals(content))
})

t.test('without the addon: fdatasync', async (t) => {
  const { handle, datasyncs } = await openWritten(t, 'fallback', content)
  await startWriteback(handle, 0, content.length, null)
  t.equal(datasyncs(), 1)
  t.ok(fs.readFileSync(path.join(tmp, 'fallback')).equals(content))
})

t.test('a file sync_file_range does not apply to (a FIFO: ESPIPE) falls back to fdatasync, whose own error is the one given', async (t) => {
  if (native === null) {
    t.pass('no addon here: nothing to fall back from')
    return
  }
  const fifo = path.join(tmp, 'fifo')
  execFileSync('mkfifo', [fifo])
  const handle = await fsp.open(fifo, 'r+') // read-write: opens at once, with no writer at the other end
  t.teardown(async () => { await handle.close() })
  let calls = 0
  const datasync = handle.datasync.bind(handle)
  handle.datasync = async () => { calls++; await datasync() }
  await t.rejects(startWriteback(handle, 0, 10), { code: 'EINVAL', syscall: 'fdatasync' })
  t.equal(calls, 1, 'sync_file_range said ESPIPE, then fdatasync was tried')
})

t.test('a real failure is an errno error naming sync_file_range, with no fallback', async (t) => {
  if (native === null) {
    t.pass('no addon here')
    return
  }
  const { handle, datasyncs } = await openWritten(t, 'closed', Buffer.from('x'))
  // The descriptor closed under the handle: EBADF from the call itself (the handle is not used after).
  fs.closeSync(handle.fd)
  await t.rejects(startWriteback(handle, 0, 1), { code: 'EBADF', errno: -9, syscall: 'sync_file_range', message: /^EBADF: Bad file descriptor, sync_file_range$/ })
  t.equal(datasyncs(), 0)
})

t.test('the addon refuses arguments that are no offsets', async (t) => {
  if (native === null) {
    t.pass('no addon here')
    return
  }
  t.throws(() => { void native.startWriteback(-1, 0, 1) }, { name: 'RangeError', message: /fd must be a whole number/ })
  t.throws(() => { void native.startWriteback(0, 1.5, 1) }, { name: 'RangeError', message: /offset/ })
  t.throws(() => { void native.startWriteback(0, 0, Infinity) }, { name: 'RangeError', message: /length/ })
  t.throws(() => { void (native.startWriteback as (...args: unknown[]) => Promise<void>)(0, 0) }, { name: 'TypeError' })
})
