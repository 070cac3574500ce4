/**
 * `shoebox pack` and entries it cannot read (issue 9, A9): without
 * --skip-unreadable the first one stops the pack with one line naming it;
 * with it each is skipped, counted by reason in the summary, and listed one
 * line each with --verbose. And the same through pack()'s skipUnreadable.
 *
 * Root reads files whatever their permission bits, and CI runs as root: so
 * when this test runs as root the CLI is spawned as nobody (uid/gid 65534)
 * over a tree that nobody can read in part (files and directories owned by
 * root, mode 0600 / 0700); otherwise the unreadable entries are chmod 000.
 * Either way it is a real process meeting a real EACCES: nothing is skipped.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ShoeboxError } from '../../lib/index.js'
import { pack, type SkippedEntry } from '../../lib/pack/pack.js'
import { unpack } from '../../lib/pack/unpack.js'
import { buildCli, cliEnv } from '../fixtures-s3/cli-build.js'

const ROOT = process.getuid?.() === 0
const NOBODY = 65534

// Everything this file makes is for nobody to read (the CLI's copy, the readable part of the tree), whatever the
// developer's umask: under 077 the copy was closed to nobody, and every case failed to start the CLI.
const umask = process.umask(0o022)
t.teardown(() => { process.umask(umask) })
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-pack-unreadable-'))
t.teardown(() => { fs.rmSync(base, { recursive: true, force: true }) })
// Everything below is for nobody to walk through (mkdtemp makes 0700).
fs.chmodSync(base, 0o755)
// A copy of its own, not cliBinary()'s: as root the CLI runs as nobody, and cliBinary()'s directory (mkdtemp,
// 0700) is closed to them.
const bin = buildCli(path.join(base, 'cli'))

interface Result {
  code: number | null
  stderr: string
}

/** The shoebox binary as a user who cannot read what is locked (nobody, when we are root). */
function shoebox (args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    // Through env -u: tap's process tracking puts its loader into every child's NODE_OPTIONS,
    // and that loader writes under .tap/ at exit, which nobody cannot.
    const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, bin, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: cliEnv({ TMPDIR: os.tmpdir() }),
      cwd: base,
      ...(ROOT ? { uid: NOBODY, gid: NOBODY } : {})
    })
    const err: Buffer[] = []
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code, stderr: Buffer.concat(err).toString('utf8') }) })
  })
}

/** Make `target` unreadable to the user shoebox() runs as. */
function lock (target: string): void {
  fs.chmodSync(target, ROOT ? (fs.statSync(target).isDirectory() ? 0o700 : 0o600) : 0o000)
}

/**
 * A tree: a.txt, locked/ (a directory with a file in it), open/b.txt,
 * secret.txt, z.txt; `locked/` and `secret.txt` locked. Returns its path.
 */
function tree (name: string): string {
  const src = path.join(base, name)
  fs.mkdirSync(path.join(src, 'locked'), { recursive: true, mode: 0o755 })
  fs.mkdirSync(path.join(src, 'open'), { mode: 0o755 })
  fs.chmodSync(src, 0o755)
  for (const [rel, text] of [['a.txt', 'a'], ['locked/in.txt', 'in'], ['open/b.txt', 'bb'], ['secret.txt', 'secret'], ['z.txt', 'zzz']]) {
    fs.writeFileSync(path.join(src, rel), text, { mode: 0o644 })
  }
  lock(path.join(src, 'locked'))
  lock(path.join(src, 'secret.txt'))
  return src
}

/** A directory the unprivileged user can write (for the store). */
function writable (name: string): string {
  const dir = path.join(base, name)
  fs.mkdirSync(dir, { mode: 0o777 })
  fs.chmodSync(dir, 0o777)
  return dir
}

/** Everything under `dir`, '/'-separated, sorted. */
function listAll (dir: string, rel = ''): string[] {
  const out: string[] = []
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`
    out.push(child)
    if (entry.isDirectory()) out.push(...listAll(dir, child))
  }
  return out.sort()
}

t.test('without --skip-unreadable the first unreadable entry stops the pack, named, in one line', async (t) => {
  const src = tree('src-fail')
  const store = writable('store-fail')
  const r = await shoebox(['pack', src, '--to', store])
  t.equal(r.code, 1, 'exit 1')
  t.equal(r.stderr, `shoebox pack: cannot read directory ${path.join(src, 'locked')}: permission denied (EACCES); skipUnreadable (--skip-unreadable) would skip it; nothing was uploaded to ${store}\n`)

  // With the directory readable, the file is next.
  fs.chmodSync(path.join(src, 'locked'), 0o755)
  const file = await shoebox(['pack', src, '--to', store])
  t.equal(file.code, 1)
  t.equal(file.stderr, `shoebox pack: cannot read ${path.join(src, 'secret.txt')}: permission denied (EACCES); skipUnreadable (--skip-unreadable) would skip it; nothing was uploaded to ${store}\n`)
})

t.test('--skip-unreadable packs the rest and counts the skipped by reason; --verbose lists each', async (t) => {
  const src = tree('src-skip')
  fs.symlinkSync('a.txt', path.join(src, 'link'))
  const store = writable('store-skip')
  const r = await shoebox(['pack', src, '--to', store, '--skip-unreadable'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /^shoebox pack: 3 files, 6 bytes from .* into 1 archive \(\d+ bytes\) at .*, 3 skipped \(symlink: 1, unreadable: 2\), \d+\.\d s\n$/)
  const out = path.join(base, 'out-skip')
  t.same(await unpack(path.join(store, '*'), { out }), { files: 3, bytes: 6, archives: 1 })
  t.same(listAll(out), ['a.txt', 'open', 'open/b.txt', 'z.txt'], 'the readable files, nothing of the locked ones')

  const verboseStore = writable('store-verbose')
  const v = await shoebox(['pack', src, '--to', verboseStore, '--skip-unreadable', '--verbose'])
  t.equal(v.code, 0, v.stderr)
  const lines = v.stderr.split('\n')
  t.same(lines.slice(0, 3), [
    `shoebox pack: skipped ${path.join(src, 'link')} (symlink)`,
    `shoebox pack: skipped ${path.join(src, 'locked')} (unreadable: permission denied (EACCES))`,
    `shoebox pack: skipped ${path.join(src, 'secret.txt')} (unreadable: permission denied (EACCES))`
  ], 'one line per skipped entry, in walk order, naming it and why')
  t.match(lines[3], /^shoebox pack: 3 files, .*, 3 skipped \(symlink: 1, unreadable: 2\)/)
  t.same(lines.slice(4), [''], 'then nothing')
})

/**
 * Run `fn` as a user who cannot read what is locked: as root, with the
 * effective uid and gid of nobody (the real ids stay root, so they can be
 * put back; glibc applies the change to every thread, libuv's pool too).
 */
async function asLockedOut<T> (fn: () => Promise<T>): Promise<T> {
  if (!ROOT) return await fn()
  process.setegid?.(NOBODY)
  process.seteuid?.(NOBODY)
  try {
    return await fn()
  } finally {
    process.seteuid?.(0)
    process.setegid?.(0)
  }
}

t.test('pack(): skipUnreadable skips and reports each; without it a ShoeboxError names the path', async (t) => {
  const src = tree('src-lib')
  const skipped: SkippedEntry[] = []
  const store = writable('store-lib')
  const summary = await asLockedOut(() => pack(src, { to: store, skipUnreadable: true, onSkip: (e) => { skipped.push(e) } }))
  t.equal(summary.files, 3)
  t.equal(summary.skipped, 2)
  t.same(skipped, [
    { path: 'locked', reason: 'unreadable', detail: 'permission denied (EACCES)' },
    { path: 'secret.txt', reason: 'unreadable', detail: 'permission denied (EACCES)' }
  ])
  let failure: unknown
  const store2 = writable('store-lib2')
  await asLockedOut(() => pack(src, { to: store2 })).catch((err: unknown) => { failure = err })
  t.ok(failure instanceof ShoeboxError, 'a ShoeboxError')
  t.equal((failure as ShoeboxError).code, 'SHOEBOX_IO')
  t.match((failure as ShoeboxError).message, `cannot read directory ${path.join(src, 'locked')}: permission denied (EACCES)`)
})
