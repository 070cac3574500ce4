/**
 * The zstd backends against each other (lib/compress/zstd-loader.ts): the
 * system's libzstd through the native addon (native/zstd_system.c, the
 * default on Node 20 with the addon built, so the other zstd test files
 * run on it there) and @mongodb-js/zstd. Each reads the other's frames and
 * the `zstd` command's (with and without a content size or checksum), and
 * the command reads ours; every level boundary; empty, 1-byte and
 * many-block inputs; damaged, torn and lying frames fail alike, and the
 * reader's key cases (chunk boundaries, salvage, lenient skips) give the
 * same outcome under each. Then, in real processes from the transpiled
 * sources: the addon's own errors (no library, not zstd, too old), and
 * the fallback to the package, silent, when libzstd cannot load
 * (SHOEBOX_LIBZSTD naming another file, SHOEBOX_NATIVE=0).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import zlib from 'node:zlib'
import t from 'tap'
import { loadZstd, zstd, zstdFrame, type ZstdBackend } from '../../lib/compress/zstd.js'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { zlibMayHaveZstd } from '../../lib/compress/zstd-loader.js'
import { loadNativeZstd } from '../../lib/native.js'
import { haveZstdCommand, seededText, unzstd, type UnzstdOutcome, zstdBlockEnds } from '../helpers.js'
import { ROOT, transpileTree } from '../transpile.js'

const BLOCK = 128 * 1024
/** Lines zstd shrinks only a little: a few hundred KB make several compressed blocks. */
const randomLines = (bytes: number): Buffer => seededText(7).lines(bytes, ' é✓')
const many = randomLines(5 * BLOCK + 5000)
const inputs: Array<[string, Buffer]> = [['empty', Buffer.alloc(0)], ['1 byte', Buffer.from('x')], ['1000 bytes', many.subarray(0, 1000)], ['6 blocks', many]]

/** Node >= 22.15: node:zlib has zstd, and comes first under auto. */
const nodeHasZstd = typeof (zlib as unknown as { zstdCompress?: unknown }).zstdCompress === 'function'
/** What auto picks here when the backends before it are `next`: node:zlib where Node has zstd. */
const underAuto = (next: string | null): string | null => nodeHasZstd ? 'node:zlib' : next

const haveCommand = haveZstdCommand

t.test('the addon is built here, and both backends load', async (t) => {
  t.ok(loadNativeZstd() !== null, 'the addon has the zstd functions')
  t.equal((await loadZstd('libzstd'))?.name, 'libzstd')
  t.equal((await loadZstd('package'))?.name, '@mongodb-js/zstd')
  t.equal((await loadZstd('auto'))?.name, underAuto('libzstd'), 'auto: node:zlib where Node has zstd, else the system library before the package')
})

t.test('auto asks node:zlib only on a Node whose zlib may have zstd (not loading it for nothing on older ones)', async (t) => {
  t.ok(zlibMayHaveZstd() || !nodeHasZstd, `this Node (${process.versions.node}) has zstd in zlib only if it says it may`)
  const versions = ['20.20.2', '22.14.0', '22.15.0', '23.7.0', '23.8.0', '24.0.0', '25.1.0']
  t.same(versions.filter((v) => zlibMayHaveZstd(v)), ['22.15.0', '23.8.0', '24.0.0', '25.1.0'])
})

async function backends (): Promise<Array<[string, ZstdBackend]>> {
  return [['libzstd', await loadZstd('libzstd') as ZstdBackend], ['package', await loadZstd('package') as ZstdBackend]]
}

t.test('each backend reads the other\'s frames, at every level boundary, empty to many blocks', async (t) => {
  for (const [writer, w] of await backends()) {
    for (const level of [-131072, -1, 1, 3, 22]) {
      for (const [name, input] of inputs) {
        // Level 22 over 700 KB takes seconds on a busy machine: its boundary is tried on the small inputs.
        if (level === 22 && input.length > 1000) continue
        const frame = await w.compress(input, level)
        t.equal(walkFrames(frame).frames.length, 1, `${writer} ${level} ${name}: one frame`)
        for (const [reader, r] of await backends()) {
          t.ok((await r.decompress(frame)).equals(input), `${writer} level ${level}, ${name}: read by ${reader}`)
        }
      }
    }
  }
})

t.test('the level reaches libzstd; a level outside its range is an error, not a clamp', async (t) => {
  const [[, libzstd]] = await backends()
  const fast = await libzstd.compress(many, -7)
  const small = await libzstd.compress(many, 19)
  t.ok(small.length < fast.length, `${small.length} < ${fast.length}`)
  for (const level of [-131073, 23, 1.5, Number.NaN]) {
    await t.rejects(libzstd.compress(many, level), RangeError, `level ${level}`)
  }
  t.throws(() => zstd({ level: 23, backend: 'libzstd' }), { code: 'SHOEBOX_INVALID_OPTION' }, 'the stage refuses it first')
})

t.test('frames without a content size, as the package writes them; several frames in one call', async (t) => {
  const [[, libzstd], [, pkg]] = await backends()
  const frame = await libzstd.compress(many, 1)
  t.equal(frame[4] & 0xc4, 0, 'no Frame_Content_Size, no checksum: as the reader\'s salvage and skips expect')
  t.equal((await pkg.compress(many, 1))[4] & 0xc4, 0, 'the package\'s frames are the same kind')
  const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from('abc')])
  const three = Buffer.concat([frame, skippable, await libzstd.compress(Buffer.alloc(0), 1), await pkg.compress(many.subarray(0, 9), 1)])
  for (const [name, b] of await backends()) {
    t.ok((await b.decompress(three)).equals(Buffer.concat([many, many.subarray(0, 9)])), `${name}: frames, a skippable and an empty one`)
  }
})

t.test(`the zstd command reads libzstd's frames, and libzstd reads the command's (zstd on PATH: ${haveCommand ? 'yes' : 'no'})`, async (t) => {
  t.ok(haveCommand, 'the zstd command is installed here (the CI image has it)')
  if (!haveCommand) return
  const [[, libzstd]] = await backends()
  const frames = Buffer.concat(await Promise.all([many, Buffer.alloc(0), Buffer.from('x')].map(async (b) => await libzstd.compress(b, 1))))
  t.ok(execFileSync('zstd', ['-dc'], { input: frames, maxBuffer: 1 << 26 }).equals(Buffer.concat([many, Buffer.from('x')])), 'zstd -dc')
  const dir = t.testdir({})
  fs.writeFileSync(path.join(dir, 'many'), many)
  // From a file: a content size and a checksum in the header; from a pipe: neither size nor (with --no-check) checksum.
  for (const [how, theirs] of [
    ['-3 file', execFileSync('zstd', ['-c', '-3', path.join(dir, 'many')])],
    ['-1 --no-check pipe', execFileSync('zstd', ['-c', '-1', '--no-check'], { input: many, maxBuffer: 1 << 26 })],
    ['--fast=3 -B4096 pipe', execFileSync('zstd', ['-c', '--fast=3', '-B4096'], { input: many, maxBuffer: 1 << 26 })]
  ] as const) {
    for (const [name, b] of await backends()) {
      t.ok((await b.decompress(Buffer.concat([theirs, theirs]))).equals(Buffer.concat([many, many])), `zstd ${how}, read by ${name}`)
    }
  }
})

t.test('libzstd with the walker\'s bound: the content in one pass, and never more than the bound', async (t) => {
  const [[, libzstd], [, pkg]] = await backends()
  const dir = t.testdir({})
  fs.writeFileSync(path.join(dir, 'many'), many)
  const sized = haveCommand ? execFileSync('zstd', ['-c', '-3', path.join(dir, 'many')]) : await pkg.compress(many, 3)
  const empty = await libzstd.compress(Buffer.alloc(0), 1)
  for (const [name, frames, content] of [
    ['the package\'s frame (no content size)', await pkg.compress(many, 1), many],
    ['libzstd\'s frame (no content size)', await libzstd.compress(many, 1), many],
    ['the zstd command\'s frame (a content size)', sized, many],
    ['two frames', Buffer.concat([await pkg.compress(many, 1), await libzstd.compress(many.subarray(0, 10), 1)]), Buffer.concat([many, many.subarray(0, 10)])],
    ['an empty frame', empty, Buffer.alloc(0)]
  ] as Array<[string, Buffer, Buffer]>) {
    const bound = walkFrames(frames).frames.reduce((sum, f) => sum + f.bound, 0)
    t.ok(bound >= content.length, `${name}: bound ${bound} >= ${content.length}`)
    t.ok((await libzstd.decompress(frames, bound)).equals(content), `${name}: with its bound`)
    t.ok((await libzstd.decompress(frames, content.length)).equals(content), `${name}: with exactly its content's room`)
    if (content.length > 0) {
      await t.rejects(libzstd.decompress(frames, content.length - 1), { message: 'the frames hold more than the bound their headers give' }, `${name}: one byte less`)
      await t.rejects(libzstd.decompress(frames, 0), { message: 'the frames hold more than the bound their headers give' }, `${name}: none`)
    }
  }
  t.equal(await verdict(libzstd, Buffer.alloc(0)), 'error incomplete frame', 'empty input, with or without a bound')
  await t.rejects(libzstd.decompress(Buffer.alloc(0), 10), { message: 'incomplete frame' })
  for (const bad of [-1, 1.5, Number.NaN]) await t.rejects(libzstd.decompress(empty, bad), RangeError, `bound ${bad}`)
  t.ok((await libzstd.decompress(empty, Infinity)).equals(Buffer.alloc(0)), 'a bound past any Buffer: as none')
  // Damage with a bound: the same words as without (the one pass fails, the frame-by-frame pass says why).
  const garbled = await libzstd.compress(many, 1)
  garbled[zstdBlockEnds(garbled)[2] + 3] ^= 0xff
  const theirs = await verdict(pkg, garbled)
  t.match(theirs, /^error /)
  t.equal(await verdict(libzstd, garbled), theirs)
  await t.rejects(libzstd.decompress(garbled, many.length), { message: theirs.slice('error '.length) })
})

/** What a backend's decompress() makes of `input`: its content's length, or its error's message. */
async function verdict (b: ZstdBackend, input: Buffer): Promise<string> {
  try {
    return `content ${(await b.decompress(input)).length}`
  } catch (err) {
    return `error ${(err as Error).message}`
  }
}

t.test('damaged, torn, empty and lying frames: an error from each backend, the same words', async (t) => {
  const [[, libzstd], [, pkg]] = await backends()
  const frame = await libzstd.compress(many, 1)
  const ends = zstdBlockEnds(frame)
  const garbled = Buffer.from(frame)
  garbled[ends[2] + 3] ^= 0xff
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['not zstd', Buffer.from('{"a":1}\n')],
    ['a byte garbled in block 4', garbled],
    ...[5, 6, 200, ends[0], ends[3] - 1, frame.length - 1].map((cut): [string, Buffer] => [`torn at ${cut}`, frame.subarray(0, cut)])
  ]
  if (haveCommand) {
    // The command's frame with its content size and checksum, the size said one less and one more than the content.
    const dir = t.testdir({})
    fs.writeFileSync(path.join(dir, 'c'), many.subarray(0, 70000))
    const sized = execFileSync('zstd', ['-c', '-3', path.join(dir, 'c')])
    t.equal(sized[4] >> 6, 2, 'a 4-byte Frame_Content_Size')
    for (const delta of [-1, 1]) {
      const lying = Buffer.from(sized)
      lying.writeUInt32LE(70000 + delta, 5 + ((sized[4] & 0x20) !== 0 ? 0 : 1))
      cases.push([`content size ${delta > 0 ? 'over' : 'under'}stated`, lying])
    }
    const checksum = Buffer.from(sized)
    checksum[checksum.length - 1] ^= 0x01
    cases.push(['a wrong content checksum', checksum])
  }
  for (const [name, input] of cases) {
    const ours = await verdict(libzstd, input)
    t.match(ours, /^error /, `${name}: libzstd fails (${ours})`)
    t.equal(ours, await verdict(pkg, input), `${name}: as the package does`)
  }
})

/** An outcome without its Buffer, to compare across backends with t.same. */
function plain (o: UnzstdOutcome): unknown {
  return { data: o.data.toString('base64'), error: o.error === undefined ? undefined : { code: o.error.code, offset: o.error.offset, message: o.error.message, cutShort: o.error.cutShort }, corrupt: o.corrupt }
}

t.test('the reader\'s key cases give the same outcome under each backend', async (t) => {
  const [[, libzstd]] = await backends()
  const before = await libzstd.compress(Buffer.from('{"before":1}\n'), 1)
  const frame = await zstdFrame(many, 1, 'f', 'package')
  const after = await libzstd.compress(Buffer.from('{"after":2}\n'), 1)
  const ends = zstdBlockEnds(frame)
  const garbled = Buffer.from(frame)
  garbled[ends[1] + 3] ^= 0xff
  const cases: Array<[string, Buffer, number, 'strict' | 'lenient']> = [
    ['three frames in chunks of 1', Buffer.concat([before, after, before]), 1, 'strict'],
    ['three frames in chunks of 4096', Buffer.concat([before, frame, after]), 4096, 'strict'],
    ['torn in block 4, strict', Buffer.concat([before, frame.subarray(0, ends[3] - 5)]), 777, 'strict'],
    ['torn in block 4, then a frame, lenient', Buffer.concat([before, frame.subarray(0, ends[3] - 5), after]), 777, 'lenient'],
    ['garbled in block 3, strict', Buffer.concat([before, garbled, after]), 65536, 'strict'],
    ['garbled in block 3, lenient', Buffer.concat([before, garbled, after]), 65536, 'lenient']
  ]
  for (const [name, input, size, mode] of cases) {
    const ours = await unzstd(input, size, mode, { backend: 'libzstd' })
    const theirs = await unzstd(input, size, mode, { backend: 'package' })
    t.same(plain(ours), plain(theirs), `${name}: the same content, error and corrupt events`)
    if (name.startsWith('garbled')) {
      // Not just alike: right. Blocks 1 and 2 of the garbled frame are delivered, then the damage at its start.
      t.ok(ours.data.subarray(13, 13 + 2 * BLOCK).equals(many.subarray(0, 2 * BLOCK)), `${name}: the two blocks before the damage`)
      t.match(mode === 'strict' ? ours.error?.message : ours.corrupt[0]?.detail, /\(2 of 6 whole blocks\) were read/)
    }
  }
})

t.test('the compressing stage writes with libzstd, in order, and the package reads it', async (t) => {
  const stage = zstd({ level: 1, backend: 'libzstd' })
  const out: Buffer[] = []
  stage.on('data', (c: Buffer) => out.push(c))
  const parts = [many.subarray(0, 300000), many.subarray(300000, 300001), many.subarray(300001)]
  await new Promise<void>((resolve, reject) => {
    stage.on('end', resolve).on('error', reject)
    for (const p of parts) stage.write(p)
    stage.end()
  })
  const data = Buffer.concat(out)
  t.equal(walkFrames(data).frames.length, 3, 'one frame per chunk')
  t.ok((await unzstd(data, 1000, 'strict', { backend: 'package' })).data.equals(many))
})

/*
 * Real processes: which library opens is fixed for a process by the first
 * one that does, and the backend by the first load.
 */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-zstd-backends-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const loader = transpileTree(path.join(ROOT, 'lib', 'compress', 'zstd.ts'), tmp)
const nativeJs = path.join(tmp, 'lib', 'native.js')
// The transpiled lib/native.js finds the addon one level up, as lib/ and dist/ do.
fs.symlinkSync(path.join(ROOT, 'build'), path.join(tmp, 'build'), 'dir')

function child (body: string, env: NodeJS.ProcessEnv = {}): { status: number | null, stdout: string, stderr: string } {
  const file = path.join(tmp, `child-${Math.random().toString(36).slice(2)}.mjs`)
  fs.writeFileSync(file, `const zstd = await import(${JSON.stringify(pathToFileURL(loader).href)})
const native = await import(${JSON.stringify(pathToFileURL(nativeJs).href)})
${body}
`)
  const clean: NodeJS.ProcessEnv = { ...process.env }
  for (const name of ['SHOEBOX_ZSTD', 'SHOEBOX_LIBZSTD', 'SHOEBOX_NATIVE']) delete clean[name]
  const result = spawnSync(process.execPath, [file], { env: { ...clean, ...env }, encoding: 'utf8' })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** A library with every function the addon looks for, saying it is zstd 1.3.99. */
function oldLibrary (): string {
  const names = ['minCLevel', 'maxCLevel', 'compressBound', 'isError', 'getErrorName', 'createCCtx', 'CCtx_reset', 'CCtx_setParameter',
    'compress2', 'createDCtx', 'DCtx_reset', 'decompressDCtx', 'getFrameContentSize', 'findFrameCompressedSize', 'decompressStream',
    'DCtx_setParameter', 'freeDCtx']
  const source = path.join(tmp, 'old.c')
  fs.writeFileSync(source, `unsigned ZSTD_versionNumber (void) { return 10399; }\n${names.map((n) => `int ZSTD_${n} (void) { return 0; }`).join('\n')}\n`)
  const library = path.join(tmp, 'libzstd-old.so')
  execFileSync('cc', ['-shared', '-fPIC', '-o', library, source])
  return library
}

t.test('the addon says why a library does not open, and the first that opens is the process\'s', async (t) => {
  const old = oldLibrary()
  const r = child(`const z = native.loadNativeZstd()
const said = []
try { z.zstdCompress(Buffer.from('x'), 1) } catch (err) { said.push(err.message) }
for (const library of ['/nonexistent/libzstd.so.1', 'libc.so.6', ${JSON.stringify(old)}]) {
  try { z.zstdOpen(library); said.push('opened ' + library) } catch (err) { said.push(err.message) }
}
const version = z.zstdOpen()
said.push(version >= 10400, z.zstdOpen('/nonexistent/libzstd.so.1') === version)
console.log(JSON.stringify(said))`)
  t.equal(r.status, 0, r.stderr)
  const said = JSON.parse(r.stdout) as unknown[]
  t.match(said, [
    /not open/,
    /\/nonexistent\/libzstd\.so\.1: cannot open shared object file/,
    /libc\.so\.6: it has no ZSTD_versionNumber/,
    /libzstd-old\.so: zstd 1\.3\.99 is older than 1\.4\.0/,
    true,
    true
  ])
})

const ROUND_TRIP = `const backend = await zstd.loadZstd()
const data = Buffer.from('{"a":"é"}\\n'.repeat(1000))
const ok = backend === null ? null : (await backend.decompress(await backend.compress(data, 1))).equals(data)
let unsupported = null
try { await zstd.requireZstd('x.shoebox.zst') } catch (err) { unsupported = err.code + ' ' + err.message }
console.log(JSON.stringify({ name: backend?.name ?? null, ok, unsupported }))`

/*
 * Node 22.15 and later export their own zstd's functions from the
 * executable; the system library's calls to its own functions bound to
 * those (another version), and the first compression crashed (SIGSEGV in
 * ZSTD_CCtx_reset). Here a preloaded library stands in for Node's exports
 * (on Node 20, which has none): its ZSTD_freeCDict, which ZSTD_CCtx_reset
 * calls, exits the process saying so.
 */
t.test('libzstd calls its own functions where the process already has zstd functions (as Node >= 22.15 exports them)', async (t) => {
  const source = path.join(tmp, 'interposer.c')
  fs.writeFileSync(source, `#include <unistd.h>
unsigned ZSTD_versionNumber (void) { return 10507; }
unsigned long ZSTD_freeCDict (void *cdict) { (void)cdict; static const char said[] = "the process's ZSTD_freeCDict was called\\n"; write(2, said, sizeof said - 1); _exit(70); }
`)
  const interposer = path.join(tmp, 'libinterposer.so')
  execFileSync('cc', ['-shared', '-fPIC', '-o', interposer, source])
  const r = child(`${ROUND_TRIP}
const decoder = (await zstd.loadZstd()).streamDecoder(27)
const piece = await decoder.decode(await (await zstd.loadZstd()).compress(Buffer.from('streamed'), 1))
decoder.free()
console.log(piece.content.toString())`, { SHOEBOX_ZSTD: 'libzstd', LD_PRELOAD: interposer })
  t.equal(r.stderr, '', 'nothing said')
  t.equal(r.status, 0)
  t.same(r.stdout.split('\n').filter(Boolean), [JSON.stringify({ name: 'libzstd', ok: true, unsupported: null }), 'streamed'], 'a round trip and a streamed frame through the system library')
})

t.test('libzstd unavailable: auto falls back to the package without a word; SHOEBOX_ZSTD=libzstd then has none', async (t) => {
  const cases: Array<[string, NodeJS.ProcessEnv, string | null]> = [
    ['the default', {}, underAuto('libzstd')],
    ['SHOEBOX_LIBZSTD naming a missing file', { SHOEBOX_LIBZSTD: path.join(tmp, 'missing.so') }, underAuto('@mongodb-js/zstd')],
    ['SHOEBOX_LIBZSTD naming a library that is not zstd', { SHOEBOX_LIBZSTD: 'libc.so.6' }, underAuto('@mongodb-js/zstd')],
    ['SHOEBOX_NATIVE=0', { SHOEBOX_NATIVE: '0' }, underAuto('@mongodb-js/zstd')],
    ['SHOEBOX_ZSTD=package', { SHOEBOX_ZSTD: 'package' }, '@mongodb-js/zstd'],
    ['SHOEBOX_ZSTD=libzstd', { SHOEBOX_ZSTD: 'libzstd' }, 'libzstd'],
    ['SHOEBOX_ZSTD=libzstd, SHOEBOX_NATIVE=0', { SHOEBOX_ZSTD: 'libzstd', SHOEBOX_NATIVE: '0' }, null],
    ['SHOEBOX_ZSTD=libzstd, the library missing', { SHOEBOX_ZSTD: 'libzstd', SHOEBOX_LIBZSTD: path.join(tmp, 'missing.so') }, null]
  ]
  for (const [name, env, expected] of cases) {
    const r = child(ROUND_TRIP, env)
    t.equal(r.status, 0, `${name}: ${r.stderr}`)
    t.equal(r.stderr, '', `${name}: nothing said`)
    const got = JSON.parse(r.stdout) as { name: string | null, ok: boolean | null, unsupported: string | null }
    t.equal(got.name, expected, name)
    if (expected !== null) {
      t.equal(got.ok, true, `${name}: round trip`)
    } else {
      t.match(got.unsupported, /^SHOEBOX_UNSUPPORTED x\.shoebox\.zst: zstd is not available in this install/, `${name}: unsupported, naming the file`)
      // The one backend asked for is named with why; the package, never tried, is not said to have failed.
      t.match(got.unsupported, / through SHOEBOX_ZSTD=libzstd: the system's libzstd \(1\.4\.0 or later\) through the native addon did not load \(without SHOEBOX_ZSTD, whichever zstd loads is used\); gzip and plain archives still work$/, `${name}: says which`)
      t.notMatch(got.unsupported, /@mongodb-js\/zstd/, `${name}: not the package`)
    }
  }
})

t.test('SHOEBOX_ZSTD=zlib on a Node whose zlib has no zstd: the error says that, not that every backend failed', { skip: zlibMayHaveZstd() ? 'this Node\'s zlib may have zstd' : false }, async (t) => {
  const r = child(`let unsupported = null
try { await zstd.requireZstd('x.shoebox.zst') } catch (err) { unsupported = err.code + ' ' + err.message }
let given = null
try { await zstd.requireZstd('y.shoebox.zst', 'zlib') } catch (err) { given = err.message }
console.log(JSON.stringify({ unsupported, given }))`, { SHOEBOX_ZSTD: 'zlib' })
  t.equal(r.status, 0, r.stderr)
  const got = JSON.parse(r.stdout) as { unsupported: string | null, given: string | null }
  t.equal(got.unsupported, `SHOEBOX_UNSUPPORTED x.shoebox.zst: zstd is not available in this install through SHOEBOX_ZSTD=zlib: this Node's zlib has no zstd (Node ${process.versions.node}; it has from 22.15) (without SHOEBOX_ZSTD, whichever zstd loads is used); gzip and plain archives still work`)
  t.equal(got.given, `y.shoebox.zst: zstd is not available in this install through backend 'zlib': this Node's zlib has no zstd (Node ${process.versions.node}; it has from 22.15); gzip and plain archives still work`, 'a backend the caller names is named so')
})

t.test('a SHOEBOX_ZSTD that names no choice is a usage error where zstd is needed, not a silent auto', async (t) => {
  const r = child(`const loaded = await zstd.loadZstd()
let refused = null
try { await zstd.requireZstd('x.shoebox.zst') } catch (err) { refused = err.code + ' ' + err.message }
const given = await zstd.requireZstd('y.shoebox.zst', 'package')
console.log(JSON.stringify({ loaded: loaded === null ? null : loaded.name, refused, given: given.name }))`, { SHOEBOX_ZSTD: 'libzst' })
  t.equal(r.status, 0, r.stderr)
  const got = JSON.parse(r.stdout) as { loaded: string | null, refused: string | null, given: string }
  t.equal(got.loaded, underAuto('libzstd'), 'loadZstd() never throws: it reads the typo as auto')
  t.equal(got.refused, `SHOEBOX_USAGE SHOEBOX_ZSTD must be one of 'auto', 'zlib', 'libzstd', 'package', '0' (or unset), got "libzst"`)
  t.equal(got.given, '@mongodb-js/zstd', 'a choice given by the caller does not read the variable')
})
