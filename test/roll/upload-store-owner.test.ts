/**
 * Who closes the store uploads go to: the SealedUploader never does (it is
 * given a Store); the rolling sink closes a store it opened from a URL and
 * leaves a Store it was given open, for its owner.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import t from 'tap'
import { rollingSink, SealedUploader, type RollingSinkOptions } from '../../lib/index.js'
import { FileStore } from '../../lib/store/file-store.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-upload-owner-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

/** A real file store that counts close() calls. */
class CountingStore extends FileStore {
  closes = 0
  override async close (): Promise<void> {
    this.closes++
    await super.close()
  }
}

t.test('a Store given to the sink or the uploader is left open; the sink uploads through it', async (t) => {
  const store = new CountingStore(path.join(tmp, 'bucket'))
  const dir = path.join(tmp, 'given')
  const sink = rollingSink({ dir, flushInterval: 0, upload: { to: store } })
  sink.write({ metadata: {}, payload: 'one' })
  sink.end()
  await finished(sink)
  const [name] = fs.readdirSync(dir).filter((n) => !n.startsWith('.'))
  t.equal(store.closes, 0, 'the sink did not close a store it was given')
  t.ok(await store.exists(name), 'the file went through it, and it still answers')

  const uploader = new SealedUploader(dir, store)
  await uploader.resume()
  t.equal(await uploader.drain(), undefined)
  await uploader.close()
  t.equal(store.closes, 0, 'the uploader never closes its store')

  const destroyed = rollingSink({ dir: path.join(tmp, 'destroyed'), flushInterval: 0, upload: { to: store } })
  destroyed.destroy()
  await finished(destroyed).catch(() => {})
  t.equal(store.closes, 0, 'nor does a destroyed sink')
})

t.test('a missing or unusable upload.to is refused by name', async (t) => {
  const dir = path.join(tmp, 'refused')
  for (const to of [undefined, null, 42, {}]) {
    t.throws(() => rollingSink({ dir, upload: { to } } as unknown as RollingSinkOptions), { code: 'SHOEBOX_INVALID_OPTION', message: /upload\.to/ }, `to: ${JSON.stringify(to)}`)
    t.throws(() => new SealedUploader(dir, to as unknown as FileStore), { code: 'SHOEBOX_INVALID_OPTION', message: /upload\.to/ })
  }
  t.throws(() => rollingSink({ dir, upload: { to: 'ftp://example.com/x' } }), { code: 'SHOEBOX_BAD_URL' })
  t.throws(() => new SealedUploader(dir, new FileStore(dir), { attempts: 0 }), { code: 'SHOEBOX_INVALID_OPTION', message: /upload\.attempts/ })
})
