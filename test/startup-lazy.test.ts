/**
 * Importing the package must stay about as fast as starting Node
 * (bench/startup.js: <= 1.5x `node -e 0`). On this code base that time goes
 * to loading modules, about a millisecond each, so this file guards what the
 * import loads: none of the heavy packages (each loaded by the function that
 * first needs it), and no more than MAX_OWN_MODULES of shoebox's own modules.
 * Raising the bound is a decision, not an accident: a new subsystem should
 * be loaded when it is first used (a wrapper in lib/index.ts, a dynamic import in an
 * async start-up), not by lib/index.ts's import graph.
 *
 * Each case is a fresh process importing the package transpiled from the
 * current sources. A loader hook reports every ES module resolved, and at
 * exit the process reports its CommonJS modules (require.cache), so a
 * package is seen however it is loaded. The later cases prove the check sees
 * a package or module when it is loaded.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import t from 'tap'
import { zlibMayHaveZstd } from '../lib/compress/zstd-loader.js'
import { loadNative } from '../lib/native.js'
import { ROOT, transpileTree } from './transpile.js'

/**
 * Shoebox's own modules loaded by `import('shoebox')`: 62 when this was
 * written (down from 64 plus readable-stream's 28), 66 once zstd's codec
 * table, stages, frame walker and loader joined the core (the codec itself
 * loads on first use), 53 since the S3 store, the archive source's lister,
 * follow gate and peek, the rolling sink's file chain, planner and walk,
 * the uploader's retry and pack's file reader load on first use, 54 with
 * source/fetch-records.ts, and 48 since pack()/unpack()/recoverDirectory()'s
 * wrappers moved into index.ts and the fetch path, openAt, the zstd loader
 * and frame walker and the gzip header parser load on first use (DEFERRED);
 * 50 with store/store-url.ts (what a store URL is, for the CLI's check
 * without the stores) and json/own-key.ts (the "__proto__" key rule the
 * metadata block shares with the JSON parsers); 51 with stream/content-break.ts
 * (the mark a lenient zstd salvage puts on its last chunk, which decode()
 * looks for on every chunk, so it loads with decode()); 52 with
 * format/foreign-data.ts (what data that is not an archive looks like, for the
 * decoder's error at byte 0); 53 with stream/leading-bom.ts (encodeNdjson drops a
 * byte order mark at the input's start); 55 with stream/listener-rejections.ts
 * (the one class every event-emitting stream extends, so a listener's
 * rejection fails it; it was eight copies of a method and an errors.ts
 * constant); 56 with store/byte-names.ts (FileStore's names that are not
 * UTF-8, right whatever order listings finish in); 58 with json/as-written.ts
 * (encodeNdjson's fields and recordJson's payloads as written, not rounded
 * through JSON.parse and JSON.stringify); 60 with compress/zstd-decompress.ts
 * (zstd.ts split in two, so that a write loads only its compressing half:
 * the same code, one module more here); 61 with fs/real-path.ts (the
 * uploader's check, in its constructor, that it is not given its own
 * directory under another name, a symbolic link: --delete-local then deleted
 * the only copy); 62 with fifo.ts (the uploader's queue of sealed files:
 * Array#shift() made a backlog of 100,000 cost 19 s of shifts); plus one of margin. Raise it
 * only on purpose: events and the metadir have entry points of their own for
 * this reason.
 */
const MAX_OWN_MODULES = 63

/**
 * Shoebox's own modules a plain `shoebox write DIR --zstd < file.ndjson` loads (the CLI, the encoder, the rolling
 * sink as it starts and zstd's loader): 55 when this was written, plus one of margin; 57 with process-start.ts
 * (a temporary file's name records when its writer started, roll/names.ts: a killed writer's file whose pid came
 * back was taken for a live writer's for good). Each costs about half a
 * millisecond of the main thread's CPU before the first line is read, and that thread is busy throughout (nothing
 * runs beside it: bench/RESULTS.md, the start of `shoebox write`); a pipe adds the stdin gate's four modules. Raise it
 * on purpose only.
 */
const MAX_WRITE_MODULES = 57

/** Modules that load when first used, never at import (each names the file that loads it, or whose start does). */
const DEFERRED = [
  'pack/pack.js', 'pack/unpack.js', 'roll/recover.js', // index.ts
  'store/s3-store.js', 'store/s3-writer.js', 'store/s3-context.js', 'store/part-check.js', 'store/resumable-read.js', // store/lazy-store.ts
  'source/list.js', 'source/follow.js', 'compress/peek.js', // source/archive-source.ts, as it starts reading
  'roll/file-chain.js', 'roll/planner.js', 'format/walk.js', 'long-timeout.js', // roll/rolling-sink.ts, as it starts
  'transfer/retry.js', 'roll/upload-marker.js', 'roll/names.js', // roll/uploader.ts, with the first upload
  'pack/read-file.js', // pack/pack-source.ts, with the first file
  'source/fetch-records.js', // source/archive-source.ts, as it starts reading with positions: [...]
  'compress/open-at.js', // compress/gzip.ts's openAt(), on its first call
  'compress/zstd-loader.js', 'compress/zstd-frame.js', // compress/zstd.ts, with the first zstd work
  'compress/member-header.js' // compress/member-gunzip.ts, with the first gzip header
]

/** Packages that importing shoebox must not load. */
const HEAVY = ['@aws-sdk', 'better-sqlite3', 'yaml', 'split2', 'pumpify', 'minimatch', 'readable-stream']

const run = promisify(execFile)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-startup-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const pkg = path.join(tmp, 'pkg')
const index = transpileTree(path.join(ROOT, 'lib', 'index.ts'), pkg)
// The native part beside the package, as beside an installed one's dist/, so that the check sees when it loads.
if (fs.existsSync(path.join(ROOT, 'build'))) fs.symlinkSync(path.join(ROOT, 'build'), path.join(pkg, 'build'), 'dir')

fs.writeFileSync(path.join(tmp, 'hook.mjs'), `
export async function resolve (specifier, context, next) {
  const r = await next(specifier, context)
  process.stderr.write('ESM ' + r.url + '\\n')
  return r
}
`)
fs.writeFileSync(path.join(tmp, 'register.mjs'), `
import fs from 'node:fs'
import { createRequire, register } from 'node:module'
register(${JSON.stringify(pathToFileURL(path.join(tmp, 'hook.mjs')).href)})
const require = createRequire(import.meta.url)
// stderr may be a non-blocking pipe the parent has not emptied yet (seen on Node 22 under load): EAGAIN is "again".
const say = (text) => {
  let rest = Buffer.from(text)
  while (rest.length > 0) {
    try { rest = rest.subarray(fs.writeSync(2, rest)) } catch (err) { if (err.code !== 'EAGAIN') throw err }
  }
}
process.on('exit', () => {
  let text = ''
  for (const file of Object.keys(require.cache)) text += 'CJS ' + file + '\\n'
  for (const entry of process.moduleLoadList) if (entry.startsWith('NativeModule ')) text += 'NODE ' + entry.slice(13) + '\\n'
  say(text)
})
`)

interface Loaded {
  /** Packages under node_modules, by name. */
  packages: string[]
  /** Shoebox's own modules, relative to the package root. */
  own: string[]
  /** Node's built-in modules imported (as `node:NAME`). */
  builtins: string[]
  /** Node's own modules loaded by the exit, however (imported, required, or by Node itself): 'zlib', 'internal/...'. */
  node: string[]
  /** Native addons loaded (their file names): shoebox's own is build/Release/shoebox_native.node. */
  addons: string[]
}

/** Run an ES module that imports the package, then `body` (no top-level await); what it loaded by its exit. */
async function loaded (name: string, body = ''): Promise<Loaded> {
  const file = path.join(pkg, name) // beside the package's node_modules link, for the body's own imports
  fs.writeFileSync(file, `import(${JSON.stringify(pathToFileURL(index).href)}).then(async (lib) => {\n${body}\n}).catch((err) => { console.error(err); process.exitCode = 1 })\n`)
  const { stderr } = await run(process.execPath, ['--no-warnings', '--import', pathToFileURL(path.join(tmp, 'register.mjs')).href, file], { cwd: tmp })
  return loadedFrom(stderr, pkg, name)
}

/** What the hook reported on `stderr`, for a tree transpiled into `root`. */
function loadedFrom (stderr: string, root: string, name: string): Loaded {
  const files = new Set<string>()
  const builtins = new Set<string>()
  const node = new Set<string>()
  for (const line of stderr.split('\n')) {
    if (line.startsWith('NODE ')) node.add(line.slice(5))
    if (line.startsWith('NODE ')) continue
    if (line.startsWith('ESM node:')) builtins.add(line.slice(4))
    if (line.startsWith('ESM node:')) continue
    if (line.startsWith('ESM file://')) files.add(new URL(line.slice(4)).pathname)
    else if (line.startsWith('CJS ')) files.add(line.slice(4))
    else if (line !== '') throw new Error(`${name}: unexpected output: ${line}`)
  }
  const packages = new Set<string>()
  const own = new Set<string>()
  const addons = new Set<string>()
  for (const f of files) {
    if (f.endsWith('.node')) addons.add(path.basename(f))
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)
    if (m !== null) packages.add(m[1])
    else if (f.startsWith(path.join(root, 'lib') + path.sep)) own.add(path.relative(root, f))
  }
  return { packages: [...packages].sort(), own: [...own].sort(), builtins: [...builtins].sort(), node: [...node].sort(), addons: [...addons].sort() }
}

const heavyIn = (packages: string[]): string[] => packages.filter((p) => HEAVY.some((h) => p === h || p.startsWith(h + '/')))

t.test('importing the package loads none of the heavy packages, and a bounded number of its own modules', async (t) => {
  const { packages, own, builtins, addons } = await loaded('import-only.mjs', "if (typeof lib.encode !== 'function') throw new Error('no encode')")
  t.same(heavyIn(packages), [], `packages loaded: ${packages.join(', ')}`)
  // dlopen of the native part costs about a millisecond: the first encoder or decoder loads it (native.ts).
  t.same(addons, [], 'no native addon is loaded at import')
  t.ok(builtins.includes('node:fs'), 'the check sees the built-ins imported')
  // node:crypto pulls about twenty of Node's own modules; only writers need it (fs/durable.ts randomSuffix()).
  // node:zlib only (de)compressing stages and the zlib CRC fallback need (compress/gzip.ts, member-gunzip.ts, checksum.ts).
  for (const builtin of ['node:crypto', 'node:zlib']) {
    t.notOk(builtins.includes(builtin), `${builtin} is not imported at import (built-ins: ${builtins.join(' ')})`)
  }
  t.ok(own.includes(path.join('lib', 'index.js')), 'the check sees the package\'s own modules')
  t.ok(own.length <= MAX_OWN_MODULES, `${own.length} of shoebox's own modules loaded at import (at most ${MAX_OWN_MODULES}): ${own.join(' ')}`)
  for (const deferred of DEFERRED) {
    t.notOk(own.includes(path.join('lib', deferred)), `${deferred} is not loaded at import`)
  }
})

t.test('an S3 store loads its modules on its first use, not when opened', async (t) => {
  const s3Modules = DEFERRED.filter((m) => m.startsWith('store/')).map((m) => path.join('lib', m))
  const open = 'const store = lib.openStore(\'s3://bucket/prefix\', { endpoint: \'http://127.0.0.1:9\', region: \'us-east-1\' })'
  const opened = await loaded('s3-opened.mjs', `${open}
    if (store.stats().uploaded.bytes !== 0) throw new Error('stats before the first use')
    let refused = false
    try { store.writer('k', { partSize: '4MiB' }) } catch (err) { refused = err.code === 'SHOEBOX_INVALID_OPTION' }
    if (!refused) throw new Error('a bad partSize was not refused at once')
    await store.close()`)
  t.same(opened.own.filter((m) => s3Modules.includes(m)), [], 'opening the store, its stats, a refused writer and close() load none of them')
  // The first use: loads the store (and builds the SDK's client; no request is sent).
  const used = await loaded('s3-used.mjs', `${open}
    await store.client()
    await store.close()`)
  t.same(s3Modules.filter((m) => !used.own.includes(m)), [], 'the first use loads them all')
})

t.test('the rolling sink and the archive source (reading, fetching by position, resuming a gzip file) load their modules as they start', async (t) => {
  const dir = path.join(tmp, 'written')
  const { own } = await loaded('write-read.mjs', `
    const { pipeline } = await import('node:stream/promises')
    const { Readable } = await import('node:stream')
    await pipeline(Readable.from([{ metadata: {}, payload: Buffer.from('one') }]), lib.rollingSink({ dir: ${JSON.stringify(dir)}, recover: false, compress: 'gzip' }))
    const records = await lib.archiveSource(${JSON.stringify(dir)} + '/*', { positions: true }).toArray()
    if (records.length !== 1 || records[0].payload.toString() !== 'one') throw new Error('read back ' + JSON.stringify(records))
    const fetched = await lib.archiveSource(${JSON.stringify(dir)} + '/*', { positions: [records[0].position] }).toArray()
    if (fetched.length !== 1 || fetched[0].payload.toString() !== 'one') throw new Error('fetched ' + JSON.stringify(fetched))
    const resumed = await lib.archiveSource(${JSON.stringify(dir)} + '/*', { from: records[0].position }).toArray()
    if (resumed.length !== 0) throw new Error('after the last record: ' + JSON.stringify(resumed))`)
  for (const m of ['roll/file-chain.js', 'roll/planner.js', 'source/list.js', 'compress/peek.js', 'source/fetch-records.js', 'compress/open-at.js', 'compress/member-header.js']) {
    t.ok(own.includes(path.join('lib', m)), `${m} loaded once used`)
  }
})

t.test('readable-stream loads with the first stream built on it, and that stream works', async (t) => {
  // RecordsToNdjson first: a class users construct with `new`, not through a factory.
  const { packages, addons } = await loaded('first-stream.mjs', `
    const { Transform } = await import('readable-stream')
    const { Readable } = await import('node:stream')
    const { pipeline } = await import('node:stream/promises')
    const stage = new lib.RecordsToNdjson({ payloadOnly: true })
    if (!(stage instanceof Transform) || !(stage instanceof lib.RecordsToNdjson)) throw new Error('not a Transform')
    let text = ''
    await pipeline(Readable.from([{ metadata: {}, payload: Buffer.from('one') }]), stage, async function * (source) { for await (const c of source) text += c })
    if (text !== 'one\\n') throw new Error('printed ' + JSON.stringify(text))
    const encoder = lib.encode()
    if (!(encoder instanceof Transform)) throw new Error('encode() is not a Transform')
    encoder.destroy()`)
  t.same(heavyIn(packages), ['readable-stream'], 'the check sees readable-stream once a stream is built')
  // Where the native part is built and usable here, the first encoder loads it (and the check sees it).
  t.same(addons, loadNative() === null ? [] : ['shoebox_native.node'], 'the first encoder loads the native part')
})

t.test('recoverDirectory() loads its module on its first call, and recovers', async (t) => {
  const dir = path.join(tmp, 'empty-dir')
  fs.mkdirSync(dir)
  const { own } = await loaded('recover.mjs', `
    const recovered = await lib.recoverDirectory(${JSON.stringify(dir)})
    if (!Array.isArray(recovered) || recovered.length !== 0) throw new Error('recovered ' + JSON.stringify(recovered))`)
  t.ok(own.includes(path.join('lib', 'roll', 'recover.js')), 'the check sees a module loaded on demand')
})

t.test('shoebox write without --to loads no uploader, store or transfer module, and no recovery in a fresh directory', async (t) => {
  const root = path.join(tmp, 'cli')
  const bin = transpileTree(path.join(ROOT, 'lib', 'cli', 'bin.ts'), root)
  const input = path.join(tmp, 'lines.ndjson')
  fs.writeFileSync(input, '{"a":1}\n{"b":"ü"}\n')
  /** `shoebox write DIR ...flags < from` (a file on stdin), or from a pipe. */
  const write = async (dir: string, ...flags: string[]): Promise<Loaded> => await writeFrom(input, 'file', dir, ...flags)
  const writeFrom = async (from: string, stdin: 'file' | 'pipe', dir: string, ...flags: string[]): Promise<Loaded> => {
    const args = ['--no-warnings', '--import', pathToFileURL(path.join(tmp, 'register.mjs')).href, bin, 'write', dir, ...flags]
    // The shell gives the process the file as its stdin, as `shoebox write DIR < file` does, or a pipe from cat.
    const script = stdin === 'file' ? 'exec "$@" < "$0"' : 'cat "$0" | "$@"'
    const { stderr } = await run('/bin/sh', ['-c', script, from, process.execPath, ...args], { cwd: tmp })
    return loadedFrom(stderr.split('\n').filter((line) => !line.startsWith('shoebox write: ')).join('\n'), root, 'cli write')
  }
  const uploadModules = ['roll/uploader.js', 'roll/early-upload.js', 'store/open-store.js', 'store/file-store.js', 'store/lazy-store.js', 'store/store.js']
  // What a store URL is and the transfer line (cli/store-url-arg.ts, cli/transfer-reporter.ts): only with --to.
  const transferModules = ['store/store-url.js', 'store/s3-config.js', 'transfer/stats.js', 'cli/transfer-reporter.js']
  const recoverModules = ['roll/recover.js', 'format/decoder.js']
  const dir = path.join(tmp, 'cli-written')
  const plain = await write(dir, '--zstd')
  t.ok(plain.own.includes(path.join('lib', 'roll', 'file-chain.js')), 'the check sees the sink start')
  t.same(plain.own.filter((m) => [...uploadModules, ...transferModules, ...recoverModules].some((u) => m === path.join('lib', u))), [], `loaded: ${plain.own.join(' ')}`)
  t.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.shoebox.zst')).length, 1, 'and wrote its file')
  // node:zlib (~3 ms) loads for the planner's ratio sample of the first 64 KiB (planner.ts), not before; nor does
  // zstd's loader load it on a Node whose zlib has no zstd (zstd-loader.ts). Where it has (Node >= 22.15), it is the
  // zstd backend this write compresses with.
  if (zlibMayHaveZstd()) t.ok(plain.node.includes('zlib'), `node:zlib loads as the zstd backend (Node ${process.versions.node})`)
  else t.notOk(plain.node.includes('zlib'), 'a write of two lines loads no node:zlib')
  // A plain file on stdin goes to the lines straight: no stdin gate, nor the decompressing input's modules, which a
  // pipe loads.
  const gateModules = ['cli/stdin-gate.js', 'cli/whole-lines.js', 'compress/decompressed-input.js', 'compress/peek.js'].map((m) => path.join('lib', m))
  t.same(plain.own.filter((m) => gateModules.includes(m)), [], 'a plain file on stdin loads no stdin gate')
  // Nor any decompressing stage (codecs.ts loads one's module when it is made).
  const gzipStage = ['compress/member-gunzip.js', 'compress/member-map.js'].map((m) => path.join('lib', m))
  const zstdStage = ['compress/zstd-stream.js', 'compress/zstd-decompress.js', 'compress/zstd-frame.js', 'compress/frame-ends.js',
    'stream/read-demand.js', 'stream/content-break.js'].map((m) => path.join('lib', m))
  const decompressModules = [...gzipStage, ...zstdStage]
  t.same(plain.own.filter((m) => decompressModules.includes(m)), [], 'nor a decompressing stage')
  t.ok(plain.own.length <= MAX_WRITE_MODULES, `${plain.own.length} of shoebox's own modules for a plain file (at most ${MAX_WRITE_MODULES}): ${plain.own.join(' ')}`)
  // A pipe goes through the gate; its text is plain, so no decompressing stage loads: decompressed-input.ts loads the one
  // its first bytes ask for (the eight modules of both stages were ~4 ms of CPU before the first line was read).
  const piped = await writeFrom(input, 'pipe', path.join(tmp, 'cli-piped'), '--zstd')
  t.same(gateModules.filter((m) => !piped.own.includes(m)), [], 'a pipe on stdin loads the gate')
  t.same(piped.own.filter((m) => decompressModules.includes(m)), [], 'and, its text plain, no decompressing stage')
  t.ok(piped.own.length <= MAX_WRITE_MODULES + gateModules.length,
    `${piped.own.length} of shoebox's own modules for a plain pipe (at most ${MAX_WRITE_MODULES + gateModules.length}): ${piped.own.join(' ')}`)
  const gz = path.join(tmp, 'lines.ndjson.gz')
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(input)))
  const gzPiped = await writeFrom(gz, 'pipe', path.join(tmp, 'cli-piped-gz'), '--zstd')
  t.same(gzipStage.filter((m) => !gzPiped.own.includes(m)), [], 'gzip on the pipe loads gzip\'s stage')
  t.same(gzPiped.own.filter((m) => m === path.join('lib', 'compress', 'zstd-stream.js')), [], 'and not zstd\'s')
  t.equal(fs.readdirSync(path.join(tmp, 'cli-piped-gz')).length, 1, 'and writes its lines')
  const sample = path.join(tmp, 'sample.ndjson')
  fs.writeFileSync(sample, `{"n":1,"text":"${'x'.repeat(100)}"}\n`.repeat(1000))
  const sampled = await writeFrom(sample, 'file', path.join(tmp, 'cli-sampled'), '--zstd')
  // Its ratio sample is compressed with zstd alone (rolling-sink.ts #seed), not deflated as well.
  if (zlibMayHaveZstd()) t.ok(sampled.node.includes('zlib'), 'a write past the ratio sample: node:zlib is the zstd backend')
  else t.notOk(sampled.node.includes('zlib'), 'a write past the ratio sample loads no node:zlib either')
  // A leftover temporary file of a dead writer (no process has pid 999999999) is recovered: recover.ts loads then.
  const host = os.hostname().replace(/[~/\\:\s\0]/g, '_')
  const leftover = fs.readdirSync(dir)[0].replace(/^(.*)\.shoebox\.zst$/, `.$1-0.shoebox.zst~${host}~999999999.part`)
  fs.copyFileSync(path.join(dir, fs.readdirSync(dir)[0]), path.join(dir, leftover))
  const again = await write(dir, '--zstd')
  t.ok(again.own.includes(path.join('lib', 'roll', 'recover.js')), 'a directory with a temporary file loads recovery')
  t.notOk(fs.readdirSync(dir).includes(leftover), 'and the leftover file was recovered')
  const uploading = await write(path.join(tmp, 'cli-uploaded'), '--to', path.join(tmp, 'cli-store'))
  t.ok(uploading.own.includes(path.join('lib', 'roll', 'uploader.js')), 'with --to, the uploader loads')
  t.ok(uploading.own.includes(path.join('lib', 'cli', 'transfer-reporter.js')), 'and the transfer line')
  t.equal(fs.readdirSync(path.join(tmp, 'cli-store')).length, 1, 'and uploads')
})
