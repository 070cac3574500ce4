/**
 * zstd through the CLI: encode/write/pack with --zstd[=LEVEL] and --compress,
 * flags refused as usage errors, decode and verify reading zstd (and plain and
 * gzip in one command), damaged frames strict and --lenient, and an install
 * where zstd cannot load (SHOEBOX_ZSTD=0).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { naturalCompare } from '../../lib/index.js'
import { cli } from '../cli-run.js'
import { escapeRegExp, withoutZstd } from '../helpers.js'
import { deadPid } from '../fixtures-roll/util.js'
import { hostName, tempName } from '../../lib/roll/names.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-zstd-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const LINES = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i, pad: 'p'.repeat(i % 37), text: 'héllo 📦' }))
const INPUT = LINES.join('\n') + '\n'
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])

function sealed (dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort(naturalCompare).map((n) => path.join(dir, n))
}

t.test('encode --zstd / --zstd=LEVEL / --compress, read back by decode', async (t) => {
  for (const flags of [['--zstd'], ['--zstd=1'], ['--zstd=19'], ['--zstd=-5'], ['--compress', 'zstd'], ['--compress', 'gzip'], ['--gzip=1'], ['--compress', 'none']]) {
    const encoded = await cli(['encode', ...flags], INPUT)
    t.equal(encoded.code, 0, flags.join(' '))
    const codec = flags.join(' ').includes('zstd') ? 'zstd' : flags.join(' ').includes('gzip') ? 'gzip' : 'none'
    if (codec === 'zstd') t.same(encoded.stdout.subarray(0, 4), ZSTD_MAGIC)
    if (codec === 'gzip') t.same([...encoded.stdout.subarray(0, 2)], [0x1f, 0x8b])
    const file = path.join(tmp, `encoded-${flags.join('')}.shoebox`)
    fs.writeFileSync(file, encoded.stdout)
    const decoded = await cli(['decode', '--payload-only', file])
    t.equal(decoded.code, 0)
    t.equal(decoded.stdout.toString(), INPUT, `${flags.join(' ')} round trip`)
  }
})

t.test('bad compression flags are usage errors (exit 2)', async (t) => {
  for (const flags of [['--zstd=0'], ['--zstd=23'], ['--zstd=fast'], ['--gzip', '--zstd'], ['--compress', 'lz4'], ['--compress', 'zstd', '--gzip'], ['--gzip=10']]) {
    for (const command of [['encode'], ['write', path.join(tmp, 'never')], ['pack', tmp, '--to', path.join(tmp, 'never-packed')]]) {
      const r = await cli([...command, ...flags], INPUT)
      t.equal(r.code, 2, `${command[0]} ${flags.join(' ')}: ${r.stderr.trim()}`)
    }
  }
  t.notOk(fs.existsSync(path.join(tmp, 'never')), 'no directory created')
})

t.test('write --zstd: .shoebox.zst files of one frame per flush; verify shows the codec', async (t) => {
  const dir = path.join(tmp, 'write')
  const r = await cli(['write', dir, '--zstd=3', '--roll-records', '400'], INPUT)
  t.equal(r.code, 0, r.stderr)
  const files = sealed(dir)
  t.equal(files.length, 3)
  t.ok(files.every((f) => f.endsWith('.shoebox.zst')), files.join(' '))
  for (const f of files) t.equal(walkFrames(fs.readFileSync(f)).problem, null)
  const verify = await cli(['verify', ...files])
  t.equal(verify.code, 0)
  t.match(verify.stdout.toString(), /: OK: 400 records \(v1 0, v2 400\), \d+ bytes, zstd\n/)
  const decoded = await cli(['decode', '--payload-only', ...files])
  t.equal(decoded.stdout.toString(), INPUT)
})

t.test('decode and verify mix plain, gzip and zstd files in one command', async (t) => {
  const parts = [LINES.slice(0, 300), LINES.slice(300, 600), LINES.slice(600)].map((l) => l.join('\n') + '\n')
  const files: string[] = []
  for (const [i, flags] of [[], ['--gzip'], ['--zstd']].entries()) {
    const encoded = await cli(['encode', ...flags], parts[i])
    const file = path.join(tmp, `mixed-${i}.shoebox`)
    fs.writeFileSync(file, encoded.stdout)
    files.push(file)
  }
  const decoded = await cli(['decode', '--payload-only', ...files])
  t.equal(decoded.code, 0)
  t.equal(decoded.stdout.toString(), INPUT)
  const verify = await cli(['verify', ...files])
  t.same(verify.stdout.toString().split('\n').map((l) => /OK: 300 records|OK: 400 records/.test(l) ? l.replace(/.*bytes/, '') : l), ['', ', gzip', ', zstd', ''])
})

t.test('a damaged zstd frame: decode fails at its compressed byte after the frames before; --lenient reads past it', async (t) => {
  const dir = path.join(tmp, 'damaged')
  await cli(['write', dir, '--zstd', '--flush-interval', '0'], INPUT.repeat(30))
  const [file] = sealed(dir)
  const data = fs.readFileSync(file)
  const frames = walkFrames(data).frames
  t.ok(frames.length >= 3, `${frames.length} frames`)
  const bad = frames[1]
  for (let i = bad.start + 30; i < bad.start + 60; i++) data[i] ^= 0xff
  fs.writeFileSync(file, data)
  const strict = await cli(['decode', '--payload-only', file])
  t.equal(strict.code, 1)
  t.match(strict.stderr, `${file}: at byte ${bad.start}: bad-compression`)
  const printed = strict.stdout.toString().split('\n').length - 1
  t.ok(printed > 0 && printed < 30000, `${printed} records before the damage printed`)
  const lenient = await cli(['decode', '--lenient', '--payload-only', file])
  t.equal(lenient.code, 1, 'damage skipped: exit 1')
  t.match(lenient.stderr, `at compressed byte ${bad.start}`)
  const after = lenient.stdout.toString().split('\n').length - 1
  t.ok(after > printed, `${after} records read past the damaged frame`)
  t.ok(lenient.stdout.toString().endsWith(LINES[999] + '\n'), 'the last frame read')
  // verify and ls count what read --lenient reads: the frames after the damaged one too (they stopped at it).
  const verify = await cli(['verify', file])
  t.equal(verify.code, 1)
  t.match(verify.stdout.toString(), `${file}: DAMAGED: ${after} records (v1 0, v2 ${after}), `)
  t.match(verify.stdout.toString(), `${file}:   at compressed byte ${bad.start}: bad-compression: `)
  const ls = await cli(['ls', file])
  t.equal(ls.code, 1)
  t.match(ls.stdout.toString(), new RegExp(`\\t${after} records\\t.*\\tzstd\\t.*DAMAGED \\(zstd damaged at compressed byte ${bad.start}\\)\\n`))
})

t.test('a torn zstd file is recovered by the next write', async (t) => {
  const dir = path.join(tmp, 'torn')
  await cli(['write', dir, '--zstd', '--flush-interval', '0'], INPUT.repeat(30))
  const [file] = sealed(dir)
  const data = fs.readFileSync(file)
  const frames = walkFrames(data).frames
  // As a killed writer leaves it: a temporary name, the last frame half written.
  const last = frames[frames.length - 1]
  const temp = path.join(dir, `.${path.basename(file, '.shoebox.zst')}-torn.shoebox.zst~${os.hostname().replace(/[~/\\:\s\0]/g, '_')}~999999999.part`)
  const half = Math.floor((last.end - last.start) / 2)
  fs.writeFileSync(temp, data.subarray(0, last.start + half))
  fs.unlinkSync(file)
  const r = await cli(['write', dir, '--zstd'], '')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, `, ${half} bytes dropped`)
  const [recovered] = sealed(dir)
  t.ok(recovered.endsWith('-torn.shoebox.zst'))
  t.ok(fs.readFileSync(recovered).equals(data.subarray(0, last.start)), 'cut back to the last complete frame')
  t.equal((await cli(['verify', recovered])).code, 0)
})

t.test('pack --zstd: archives end .shoebox.zst and verify', async (t) => {
  const src = path.join(tmp, 'tree')
  fs.mkdirSync(path.join(src, 'a'), { recursive: true })
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, 'a', `f${i}.json`), LINES.slice(i * 50, i * 50 + 50).join('\n'))
  const out = path.join(tmp, 'packed')
  const r = await cli(['pack', src, '--to', out, '--zstd=5'])
  t.equal(r.code, 0, r.stderr)
  const files = sealed(out)
  t.ok(files.length > 0 && files.every((f) => f.endsWith('.shoebox.zst')), files.join(' '))
  const verify = await cli(['verify', ...files])
  t.match(verify.stdout.toString(), /OK: 20 records .*, zstd/)
  // And back: unpack and read go through archiveSource, which finds zstd by its magic.
  const restored = path.join(tmp, 'restored')
  const unpacked = await cli(['unpack', path.join(out, '*.shoebox.zst'), '--out', restored])
  t.equal(unpacked.code, 0, unpacked.stderr)
  for (let i = 0; i < 20; i++) {
    t.equal(fs.readFileSync(path.join(restored, 'a', `f${i}.json`), 'utf8'), LINES.slice(i * 50, i * 50 + 50).join('\n'), `a/f${i}.json restored`)
  }
  const read = await cli(['read', path.join(out, '*.shoebox.zst')])
  t.equal(read.code, 0, read.stderr)
  t.equal(read.stdout.toString().trim().split('\n').length, 20, 'read prints the 20 packed files as records')
})

t.test('an install without zstd (SHOEBOX_ZSTD=0): zstd fails naming the file; gzip and plain still work', async (t) => {
  const zst = path.join(tmp, 'before.shoebox.zst')
  fs.writeFileSync(zst, (await cli(['encode', '--zstd'], INPUT)).stdout)
  const gz = path.join(tmp, 'before.shoebox.gz')
  fs.writeFileSync(gz, (await cli(['encode', '--gzip'], INPUT)).stdout)
  withoutZstd(t)
  const decoded = await cli(['decode', zst])
  t.equal(decoded.code, 1)
  t.match(decoded.stderr, /SHOEBOX_UNSUPPORTED|zstd is not available/)
  t.match(decoded.stderr, zst)
  t.equal(decoded.stderr.trim().split('\n').length, 1, 'one line')
  t.equal((await cli(['decode', '--payload-only', gz])).stdout.toString(), INPUT)
  const dir = path.join(tmp, 'nozstd')
  const write = await cli(['write', dir, '--zstd'], INPUT)
  t.equal(write.code, 1)
  t.match(write.stderr, /zstd is not available/)
  t.notOk(fs.existsSync(dir))
  const encode = await cli(['encode', '--zstd'], INPUT)
  t.equal(encode.code, 1)
  t.match(encode.stderr, /stdout: zstd is not available/)
  t.equal((await cli(['write', path.join(tmp, 'gz-still'), '--gzip'], INPUT)).code, 0)
  const verify = await cli(['verify', zst])
  t.equal(verify.code, 1)
  t.match(verify.stdout.toString(), /UNREADABLE: .*zstd is not available/)
})

t.test('pack --zstd without zstd (SHOEBOX_ZSTD=0): one line naming the destination (not a staging directory), nothing stored', async (t) => {
  const tree = path.join(tmp, 'pack-nozstd-tree')
  fs.mkdirSync(tree)
  fs.writeFileSync(path.join(tree, 'a.txt'), 'hello\n')
  const to = path.join(tmp, 'pack-nozstd-to')
  withoutZstd(t)
  const r = await cli(['pack', tree, '--to', to, '--zstd'])
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox pack: ${to}: zstd is not available in this install (Node < 22.15, no system libzstd through the native addon, and the optional @mongodb-js/zstd package did not load, or SHOEBOX_ZSTD=0); gzip and plain archives still work; nothing was uploaded to ${to}\n`)
  t.notOk(fs.existsSync(to), 'nothing made at the destination')
})

t.test('ls without zstd (SHOEBOX_ZSTD=0): the zstd file marked UNREADABLE, the files after it still listed, exit 1', async (t) => {
  const dir = path.join(tmp, 'ls-nozstd')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'a.shoebox'), (await cli(['encode'], INPUT)).stdout)
  fs.writeFileSync(path.join(dir, 'b.shoebox.zst'), (await cli(['encode', '--zstd'], INPUT)).stdout)
  fs.writeFileSync(path.join(dir, 'c.shoebox.gz'), (await cli(['encode', '--gzip'], INPUT)).stdout)
  withoutZstd(t)
  const ls = await cli(['ls', path.join(dir, '*')])
  t.equal(ls.code, 1)
  t.equal(ls.stderr, '', 'nothing on stderr: the line says it')
  const lines = ls.stdout.toString().split('\n')
  t.match(lines[0], /^a\.shoebox\t\d+ records\t.*\tplain\t/)
  t.match(lines[1], /^b\.shoebox\.zst\tUNREADABLE \(\S*b\.shoebox\.zst: zstd is not available in this install/)
  t.match(lines[2], /^c\.shoebox\.gz\t\d+ records\t.*\tgzip\t/)
  t.match(lines[3], /^3 files, /)
})

t.test('read --lenient without zstd (SHOEBOX_ZSTD=0): the zstd file skipped in one line, the files after it read, exit 1; strict stops there', async (t) => {
  const dir = path.join(tmp, 'read-nozstd')
  fs.mkdirSync(dir)
  const plain = (await cli(['encode'], INPUT)).stdout
  fs.writeFileSync(path.join(dir, 'a.shoebox'), plain)
  fs.writeFileSync(path.join(dir, 'b.shoebox.zst'), (await cli(['encode', '--zstd'], INPUT)).stdout)
  fs.writeFileSync(path.join(dir, 'c.shoebox.gz'), (await cli(['encode', '--gzip'], INPUT)).stdout)
  fs.writeFileSync(path.join(dir, 'd.shoebox'), plain)
  withoutZstd(t)
  const lenient = await cli(['read', '--lenient', '--payload-only', path.join(dir, '*')])
  t.equal(lenient.code, 1, 'exit 1, as for damage')
  t.equal(lenient.stdout.toString(), INPUT.repeat(3), 'a, c and d: every record that can be read')
  t.equal(lenient.stderr, `shoebox read: ${path.join(dir, 'b.shoebox.zst')}: skipped: zstd is not available in this install (Node < 22.15, no system libzstd through the native addon, and the optional @mongodb-js/zstd package did not load, or SHOEBOX_ZSTD=0); gzip and plain archives still work (SHOEBOX_UNSUPPORTED)\n`)
  const files = ['a.shoebox', 'b.shoebox.zst', 'c.shoebox.gz', 'd.shoebox'].map((n) => path.join(dir, n))
  const decoded = await cli(['decode', '--lenient', '--payload-only', ...files])
  t.equal(decoded.code, 1, 'decode --lenient: exit 1')
  t.equal(decoded.stdout.toString(), INPUT.repeat(3), 'decode --lenient: the files after it decoded too')
  t.match(decoded.stderr, new RegExp(`^shoebox decode: ${escapeRegExp(files[1])}: skipped: zstd is not available in this install [^\\n]*\\(SHOEBOX_UNSUPPORTED\\)\\n$`))
  const strict = await cli(['read', '--payload-only', path.join(dir, '*')])
  t.equal(strict.code, 1)
  t.equal(strict.stdout.toString(), INPUT, 'the records before it, then the error')
  t.match(strict.stderr, /^shoebox read: \S*b\.shoebox\.zst: zstd is not available in this install[^\n]*\n$/)
})

/** A directory `name` holding a dead writer's zstd temporary file (its bytes), in a process without zstd from here on. */
async function deadZstdLeftover (t: Test, name: string): Promise<{ dir: string, temp: string, bytes: Buffer }> {
  const dir = path.join(tmp, name)
  fs.mkdirSync(dir)
  const temp = path.join(dir, tempName('a-000000.shoebox.zst', hostName(), await deadPid()))
  const bytes = (await cli(['encode', '--zstd'], INPUT)).stdout
  fs.writeFileSync(temp, bytes)
  withoutZstd(t)
  return { dir, temp, bytes }
}

t.test('recover without zstd (SHOEBOX_ZSTD=0): a dead writer\'s zstd file is named, left as it is, and the exit is 1, not "nothing to recover"', async (t) => {
  const { dir, temp, bytes } = await deadZstdLeftover(t, 'recover-nozstd')
  const r = await cli(['recover', dir])
  t.equal(r.code, 1, 'the file could not be recovered here')
  t.match(r.stdout.toString(), `skipped ${temp}: `)
  t.notMatch(r.stdout.toString(), /nothing to recover/)
  t.equal(r.stderr, `shoebox recover: ${dir}: 1 file left unrecovered (listed above): zstd is not available in this install; recover it where zstd is (left as it was)\n`)
  t.same(fs.readFileSync(temp), bytes, 'left as it was')
})

t.test('write without zstd (SHOEBOX_ZSTD=0) into a directory with a dead writer\'s zstd file: one line says it was not recovered, the write goes on', async (t) => {
  const { dir, temp, bytes } = await deadZstdLeftover(t, 'write-nozstd-leftover')
  const w = await cli(['write', dir, '--template', 'b-{seq}.shoebox'], INPUT)
  t.equal(w.code, 0, w.stderr)
  t.match(w.stderr, new RegExp(`^shoebox write: not recovered ${escapeRegExp(temp)}: [^\\n]*zstd is not available in this install[^\\n]*\\n`))
  t.same(fs.readFileSync(temp), bytes, 'left as it was, for an install with zstd')
  t.ok(fs.existsSync(path.join(dir, 'b-000000.shoebox')), 'the write went on')
})
