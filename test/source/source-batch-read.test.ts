/**
 * Small files read whole in batches (store/whole-batch.ts: the native
 * addon's readSmallFiles(), one thread-pool job for up to 32 files) give
 * exactly what each file read on its own gives (SHOEBOX_NATIVE=0): the same
 * records, positions, events, errors and exit codes, for a file that
 * vanished, became a directory or a FIFO, cannot be read (EACCES) or grew
 * after it was listed. Real processes: whether the addon loads is fixed
 * for a process.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { SMALL_FILE_STRIDE, SmallFileOutcome, loadNativeFiles } from '../../lib/native.js'
import { buildCli, cliEnv } from '../fixtures-s3/cli-build.js'
import { repoRoot } from '../helpers.js'
import { transpileTree } from '../transpile.js'

const ROOT = process.getuid?.() === 0
const NOBODY = 65534
/** Whether this checkout has the addon built: then the default runs must have read in batches. */
const BUILT = fs.existsSync(path.join(repoRoot, 'build', 'Release', 'shoebox_native.node'))

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-batch-read-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
// Everything here is for nobody to read too (mkdtemp makes 0700).
fs.chmodSync(tmp, 0o755)

const lib = path.join(tmp, 'lib-tree')
const index = transpileTree(path.join(repoRoot, 'lib', 'index.ts'), lib)
const nativeJs = path.join(lib, 'lib', 'native.js')
const cliTree = path.join(tmp, 'cli-tree')
const bin = buildCli(cliTree)
// The transpiled lib/native.js finds the addon one level up, as lib/ and dist/ do.
for (const tree of [lib, cliTree]) fs.symlinkSync(path.join(repoRoot, 'build'), path.join(tree, 'build'), 'dir')

/** What a child's archiveSource() gave. */
interface Outcome {
  records: Array<{ payload: string, position: unknown }>
  events: unknown[]
  error: { name: string, code: string, message: string } | null
  /** readSmallFiles() calls; null where the addon did not load. */
  batches: number | null
}

/** archiveSource() over DIR/*.shoebox, with `act` done to the target file when the first file starts. */
const CHILD = `const shoebox = await import(${JSON.stringify(pathToFileURL(index).href)})
const native = await import(${JSON.stringify(pathToFileURL(nativeJs).href)})
const fs = await import('node:fs')
const { execFileSync } = await import('node:child_process')
const [dir, order, act, target] = process.argv.slice(2)
const addon = native.loadNativeFiles()
let batches = null
if (addon !== null) {
  batches = 0
  const read = addon.readSmallFiles
  addon.readSmallFiles = (...args) => { batches++; return read(...args) }
}
const source = shoebox.archiveSource(dir + '/*.shoebox', { positions: true, order })
const events = []
for (const name of ['file', 'fileEnd', 'skipped', 'corrupt']) source.on(name, (e) => { events.push({ event: name, ...e }) })
source.once('file', () => {
  if (act === 'vanish') fs.unlinkSync(target)
  if (act === 'directory') { fs.unlinkSync(target); fs.mkdirSync(target) }
  if (act === 'fifo') { fs.unlinkSync(target); execFileSync('mkfifo', [target]) }
  if (act === 'grow') fs.appendFileSync(target, fs.readFileSync(target))
  if (act === 'grow-big') fs.appendFileSync(target, Buffer.concat(Array.from({ length: 8000 }, () => fs.readFileSync(target + '.one'))))
})
const records = []
let error = null
try {
  for await (const r of source) records.push({ payload: r.payload.toString(), position: r.position })
} catch (e) {
  error = { name: e.name, code: e.code, message: e.message }
}
console.log(JSON.stringify({ records, events, error, batches }))
`
const childFile = path.join(tmp, 'child.mjs')
fs.writeFileSync(childFile, CHILD)

interface Ran { code: number | null, stdout: string, stderr: string }

/** `args` under node, as nobody when `asNobody` and we are root, with SHOEBOX_NATIVE=0 when `off`. */
async function run (args: string[], off: boolean, asNobody = false): Promise<Ran> {
  return await new Promise((resolve, reject) => {
    // Through env -u: tap's process tracking puts its loader into every child's NODE_OPTIONS,
    // and that loader writes under .tap/ at exit, which nobody cannot.
    const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], {
      env: cliEnv(off ? { SHOEBOX_NATIVE: '0' } : {}),
      cwd: tmp,
      ...(asNobody && ROOT ? { uid: NOBODY, gid: NOBODY } : {})
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }) })
  })
}

/** Ten archives of two records each (f00..f09), in a directory of their own: f03 is the one acted on. */
function tree (name: string): { dir: string, target: string } {
  const dir = path.join(tmp, name)
  fs.mkdirSync(dir, { mode: 0o755 })
  fs.chmodSync(dir, 0o777) // nobody may make a FIFO here too
  for (let i = 0; i < 10; i++) {
    const file = path.join(dir, `f${String(i).padStart(2, '0')}.shoebox`)
    fs.writeFileSync(file, encodeRecords([{ metadata: { i: String(i) }, payload: `one of ${i}` }, { metadata: {}, payload: `two of ${i}` }]), { mode: 0o644 })
  }
  const target = path.join(dir, 'f03.shoebox')
  fs.writeFileSync(target + '.one', encodeRecords([{ metadata: {}, payload: 'x'.repeat(40) }]))
  return { dir, target }
}

/** The same scenario with the addon and without: each on a fresh tree. */
async function both (name: string, order: string, act: string, asNobody = false): Promise<{ batched: Outcome, alone: Outcome }> {
  const outcome = async (off: boolean): Promise<Outcome> => {
    const { dir, target } = tree(`${name}-${off ? 'alone' : 'batched'}`)
    if (act === 'lock') fs.chmodSync(target, ROOT ? 0o600 : 0o000)
    const r = await run([childFile, dir, order, act, target], off, asNobody)
    if (r.code !== 0) throw new Error(`child failed (${String(r.code)}): ${r.stderr}`)
    // Paths differ by directory only: named as the batched tree's.
    return JSON.parse(r.stdout.replaceAll(`${name}-alone`, `${name}-batched`)) as Outcome
  }
  const batched = await outcome(false)
  const alone = await outcome(true)
  return { batched, alone }
}

function sameButBatches (t: Test, { batched, alone }: { batched: Outcome, alone: Outcome }, what: string): void {
  t.equal(alone.batches, null, `${what}: SHOEBOX_NATIVE=0 loads no addon`)
  if (BUILT) t.ok((batched.batches ?? 0) >= 1, `${what}: read in batches`)
  t.same({ ...batched, batches: 0 }, { ...alone, batches: 0 }, `${what}: the same records, positions, events and error`)
}

for (const order of ['name', 'mtime']) {
  // 'name' lists without sizes (each file sized when it is opened), 'mtime' with them (a batch expects the listed size).
  t.test(`order ${order}: every file read, the same with and without the addon`, async (t) => {
    const got = await both(`all-${order}`, order, 'none')
    sameButBatches(t, got, 'all')
    t.equal(got.batched.records.length, 20)
    t.equal(got.batched.error, null)
  })

  t.test(`order ${order}: a file deleted after the listing fails the read naming it, after the records before it`, async (t) => {
    const got = await both(`vanish-${order}`, order, 'vanish')
    sameButBatches(t, got, 'vanish')
    t.same(got.batched.records.map((r) => r.payload).slice(-1), ['two of 2'])
    t.match(got.batched.error, { code: 'SHOEBOX_NOT_FOUND', message: /f03\.shoebox: no such file or directory \(ENOENT\)$/ })
  })

  t.test(`order ${order}: a file replaced by a directory after the listing fails the read naming it`, async (t) => {
    const got = await both(`directory-${order}`, order, 'directory')
    sameButBatches(t, got, 'directory')
    t.equal(got.batched.records.length, 6)
    t.match(got.batched.error, { message: /f03\.shoebox/ })
    t.match(got.batched.error?.message, /EISDIR/)
  })

  t.test(`order ${order}: a file replaced by a FIFO fails the read naming it, without waiting for a writer`, async (t) => {
    const got = await both(`fifo-${order}`, order, 'fifo')
    sameButBatches(t, got, 'fifo')
    t.equal(got.batched.records.length, 6)
    t.match(got.batched.error?.message, /f03\.shoebox.*not a regular file/)
  })

  t.test(`order ${order}: a file that cannot be read (EACCES) fails the read naming it`, async (t) => {
    const got = await both(`locked-${order}`, order, 'lock', true)
    sameButBatches(t, got, 'locked')
    t.equal(got.batched.records.length, 6)
    t.match(got.batched.error?.message, /f03\.shoebox: permission denied \(EACCES\)/)
  })

  for (const act of ['grow', 'grow-big']) {
    t.test(`order ${order}: a file that grew after the listing (${act}) is read to its end`, async (t) => {
      const got = await both(`${act}-${order}`, order, act)
      sameButBatches(t, got, act)
      t.equal(got.batched.error, null)
      t.equal(got.batched.records.filter((r) => (r.position as { file: string }).file === 'f03.shoebox').length, act === 'grow' ? 4 : 8002)
    })
  }
}

t.test('the CLI: the same output, message and exit code with and without the addon, for a clean read and an unreadable file', async (t) => {
  for (const lock of [false, true]) {
    const runs: Ran[] = []
    for (const off of [false, true]) {
      const { dir, target } = tree(`cli-${String(lock)}-${off ? 'alone' : 'batched'}`)
      if (lock) fs.chmodSync(target, ROOT ? 0o600 : 0o000)
      const r = await run([bin, 'read', `${dir}/*.shoebox`, '--positions'], off, true)
      runs.push({ ...r, stderr: r.stderr.replaceAll('-alone', '-batched'), stdout: r.stdout.replaceAll('-alone', '-batched') })
    }
    t.same(runs[0], runs[1], `locked ${String(lock)}: the same`)
    if (lock) {
      t.equal(runs[0].code, 1)
      t.match(runs[0].stderr, /^shoebox read: .*f03\.shoebox: permission denied \(EACCES\)/)
      t.equal(runs[0].stdout.trim().split('\n').length, 6, 'the records before it')
    } else {
      t.equal(runs[0].code, 0)
      t.equal(runs[0].stdout.trim().split('\n').length, 20)
    }
  }
})

t.test('readSmallFiles() itself: each outcome, and the bytes of those read', async (t) => {
  const native = loadNativeFiles({}) // whatever this process was started with
  if (native === null) {
    t.equal(BUILT, false, 'absent only where the addon is not built')
    return
  }
  const dir = path.join(tmp, 'unit')
  fs.mkdirSync(dir)
  const file = (name: string, text: string): string => { fs.writeFileSync(path.join(dir, name), text); return path.join(dir, name) }
  const paths = [file('a', 'alpha'), path.join(dir, 'missing'), dir, file('big', 'x'.repeat(100)), file('grew', 'grown'), Buffer.from(file('b', 'beta')), 'a\0b']
  const { bytes, results } = await native.readSmallFiles(paths, Float64Array.from([-1, -1, -1, -1, 3, -1, -1]), 64)
  const at = (i: number): number[] => Array.from(results.subarray(i * SMALL_FILE_STRIDE, (i + 1) * SMALL_FILE_STRIDE))
  const text = (i: number): string => bytes.subarray(at(i)[1], at(i)[1] + at(i)[2]).toString()
  t.same([at(0)[0], text(0), at(0)[3]], [SmallFileOutcome.read, 'alpha', 5])
  t.ok(Math.abs(at(0)[4] - fs.statSync(paths[0]).mtimeMs) < 1, 'its mtime')
  t.same(at(1).slice(0, 3), [SmallFileOutcome.failed, os.constants.errno.ENOENT, 1], 'missing: ENOENT from open')
  t.equal(at(2)[0], SmallFileOutcome.notAFile, 'a directory')
  t.same([at(3)[0], at(3)[3]], [SmallFileOutcome.overCap, 100], 'over the cap of 64')
  t.equal(at(4)[0], SmallFileOutcome.grew, 'more than the 3 bytes expected')
  t.same([at(5)[0], text(5)], [SmallFileOutcome.read, 'beta'], 'a path given as bytes')
  t.equal(at(6)[0], SmallFileOutcome.notRead, 'a path holding a NUL byte is not tried')
  // A path longer than the one-call conversion's room (4096 bytes) is taken whole: cut there, it named the directory.
  const long = await native.readSmallFiles([dir + '/.'.repeat(2100) + '/a'], Float64Array.from([-1]), 64)
  t.same(Array.from(long.results.subarray(0, 3)), [SmallFileOutcome.failed, os.constants.errno.ENAMETOOLONG, 1], 'a path of 4,200 bytes: too long for open, not cut')
  t.throws(() => { void native.readSmallFiles(Array.from({ length: 65 }, () => 'x'), new Float64Array(65), 64) }, RangeError)
})
