/**
 * A pack that fails (its walk, a callback, an abort) seals and uploads
 * nothing more after the failure: onSealed is called only for the archives
 * sealed before it, the store holds exactly the archives the error says stay
 * there, and the archive the sink was filling is dropped with the staging
 * directory. (The rolling sink writes out and seals what it holds when a
 * pipeline destroys it; pack discards it instead: that last archive was
 * sealed into staging, told to onSealed, and raced to the store.)
 *
 * Each pack is held at a known point: the walk's open of its last file
 * (`zz-hold`) waits until the test lets it go, so by then the archives
 * before it are sealed and uploaded (the test waits for their onUpload) and
 * the sink holds the records after them, unsealed. Only then does the
 * failure come.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../../lib/index.js'
import { pack, type PackOptions } from '../../lib/pack/pack.js'
import type { SealedEvent } from '../../lib/roll/rolling-sink.js'
import type { UploadEvent } from '../../lib/roll/uploader.js'
import { startS3 } from '../s3-server.js'
import { tempDir } from '../temp-dir.js'

/**
 * Hold every open of a path ending in `/zz-hold` (the walk reads its files through node:fs/promises) until
 * release(); `held` resolves once one is waiting.
 */
function holdOpen (t: Test): { held: Promise<void>, release: () => void } {
  const open = fsp.open
  let release = (): void => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  let reached = (): void => {}
  const held = new Promise<void>((resolve) => { reached = resolve })
  fsp.open = async function (file: Parameters<typeof open>[0], ...rest: unknown[]) {
    if (String(file).endsWith(`${path.sep}zz-hold`)) {
      reached()
      await released
    }
    return await Reflect.apply(open, fsp, [file, ...rest]) as fsp.FileHandle
  }
  t.teardown(() => {
    fsp.open = open
    release()
  })
  return { held, release }
}

/**
 * a (2 KiB: an archive of its own at rollSize 1 KiB), b (10 bytes: the sink
 * holds it, unsealed), then zz-hold (held), and `extra` files.
 */
function tree (root: string, extra: Record<string, Buffer | string> = {}): string {
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'a'), Buffer.alloc(2048, 'a'))
  fs.writeFileSync(path.join(src, 'b'), 'bbbbbbbbbb')
  fs.writeFileSync(path.join(src, 'zz-hold'), 'held')
  for (const [name, content] of Object.entries(extra)) fs.writeFileSync(path.join(src, name), content)
  return src
}

interface Run {
  sealed: string[]
  uploaded: string[]
  /** onSealed calls that came once the failure had been made. */
  sealedAfter: string[]
  err: unknown
}

/**
 * pack(src) held at zz-hold's open; once `upload` archives are uploaded (or, with 0, once it is held), `fail()`
 * makes the failure and the walk is let go. What the callbacks saw, and the error.
 */
async function heldPack (t: Test, src: string, options: PackOptions, uploads: number, fail: () => void): Promise<Run> {
  const hold = holdOpen(t)
  const run: Run = { sealed: [], uploaded: [], sealedAfter: [], err: undefined }
  let failed = false
  let uploaded = (): void => {}
  const enough = new Promise<void>((resolve) => { uploaded = resolve })
  if (uploads === 0) uploaded()
  const packed = pack(src, {
    ...options,
    onSealed: (event: SealedEvent) => {
      const name = path.basename(event.path);
      (failed ? run.sealedAfter : run.sealed).push(name)
    },
    onUpload: (event: UploadEvent) => {
      run.uploaded.push(event.key)
      if (run.uploaded.length === uploads) uploaded()
    }
  }).catch((err: unknown) => { run.err = err })
  await hold.held
  await enough
  failed = true
  fail()
  hold.release()
  await packed
  return run
}

/** The archives in a file store's directory (none if it was never made). */
function stored (dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []
}

t.test('a walk that fails with records in the sink: no last archive is sealed or uploaded', async (t) => {
  for (const [rollSize, sealedBefore] of [['64MiB', 0], ['1KiB', 1]] as const) {
    await t.test(`rollSize ${rollSize}: ${sealedBefore} archive(s) sealed and uploaded before the failure`, async (t) => {
      const root = tempDir(t)
      // Over maxFileSize: the walk fails at it, after a, b and zz-hold.
      const src = tree(root, { 'zzz-big': Buffer.alloc(8192) })
      const to = path.join(root, 'store')
      const tmpDir = path.join(root, 'tmp')
      fs.mkdirSync(tmpDir)
      const run = await heldPack(t, src, { to, rollSize, maxFileSize: 4096, tmpDir }, sealedBefore, () => {})
      t.ok(run.err instanceof ShoeboxError && run.err.code === 'SHOEBOX_INVALID_RECORD', 'the walk\'s failure')
      t.same(run.sealedAfter, [], 'no archive sealed after the failure')
      t.equal(run.sealed.length, sealedBefore, 'onSealed for the archives before it only')
      t.same(stored(to), run.sealed, 'the store holds exactly those')
      const kept = sealedBefore === 0 ? `; nothing was uploaded to ${to}$` : `; 1 archive uploaded to ${to} before it stays there$`
      t.match((run.err as Error).message, new RegExp(`^${src}/zzz-big: 8192 bytes is more than maxFileSize \\(4096\\).*${kept}`), 'and the error says so')
      t.same(fs.readdirSync(tmpDir), [], 'the staging directory is removed')
    })
  }
})

t.test('an aborted pack (file store): the archive being filled is dropped, the one uploaded before stays', async (t) => {
  const root = tempDir(t)
  const src = tree(root)
  const to = path.join(root, 'store')
  const tmpDir = path.join(root, 'tmp')
  fs.mkdirSync(tmpDir)
  const controller = new AbortController()
  const run = await heldPack(t, src, { to, rollSize: '1KiB', tmpDir, signal: controller.signal }, 1, () => { controller.abort() })
  t.ok(run.err instanceof ShoeboxError && run.err.code === 'SHOEBOX_ABORTED', 'aborted')
  t.same(run.sealedAfter, [], 'no archive sealed after the abort')
  t.equal(run.sealed.length, 1, 'the archive of a, sealed before it')
  t.same(stored(to), run.sealed, 'the store holds it, and nothing more')
  t.same(stored(to), run.uploaded, 'as onUpload said')
  t.equal((run.err as Error).message, `aborted; 1 archive uploaded to ${to} before it stays there`)
  t.same(fs.readdirSync(tmpDir), [], 'the staging directory is removed')
})

t.test('an aborted pack (S3): the store holds exactly the archives the error counts, no upload open', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const root = tempDir(t)
  const src = tree(root)
  const tmpDir = path.join(root, 'tmp')
  fs.mkdirSync(tmpDir)
  const controller = new AbortController()
  const to = `s3://${s3.bucket}/packed`
  const storeOptions = { endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region }
  const run = await heldPack(t, src, { to, storeOptions, rollSize: '1KiB', tmpDir, signal: controller.signal }, 1, () => { controller.abort() })
  t.ok(run.err instanceof ShoeboxError && run.err.code === 'SHOEBOX_ABORTED', 'aborted')
  t.same(run.sealedAfter, [], 'no archive sealed after the abort')
  t.equal(run.sealed.length, 1, 'the archive of a, sealed before it')
  t.same(s3.keys(), run.sealed.map((name) => `packed/${name}`), 'the store holds it, and nothing more')
  t.equal((run.err as Error).message, `aborted; 1 archive uploaded to ${to} before it stays there`)
  t.equal(s3.openMultipartUploads(), 0, 'no multipart upload left open')
  t.same(fs.readdirSync(tmpDir), [], 'the staging directory is removed')
})

t.test('a callback that rejects: nothing sealed or uploaded after it', async (t) => {
  const root = tempDir(t)
  // A symbolic link, skipped before zz-hold: onSkip's promise rejects when the test says.
  const src = tree(root)
  fs.symlinkSync('a', path.join(src, 'link'))
  const to = path.join(root, 'store')
  const tmpDir = path.join(root, 'tmp')
  fs.mkdirSync(tmpDir)
  const failure = new Error('onSkip failed')
  let reject = (_err: Error): void => {}
  const skipped = new Promise<void>((_resolve, rejectSkip) => { reject = rejectSkip })
  const run = await heldPack(t, src, { to, rollSize: '1KiB', tmpDir, onSkip: async () => { await skipped } }, 1, () => { reject(failure) })
  t.equal(run.err, failure, 'the callback\'s own error')
  t.same(run.sealedAfter, [], 'no archive sealed after it')
  t.equal(run.sealed.length, 1, 'the archive of a, sealed before it')
  t.same(stored(to), run.sealed, 'the store holds it, and nothing more')
  t.same(fs.readdirSync(tmpDir), [], 'the staging directory is removed')
})
