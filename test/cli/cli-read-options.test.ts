/**
 * Issue 9, A6/A8/A9 on the reading commands: patterns that match nothing,
 * ls exit status on damage, --max-record-size, and a directory as input.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { archiveSource, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'
import { cli } from '../cli-run.js'
import { damagedArchive } from '../fixtures-read/damaged.js'
import { tempDir } from '../temp-dir.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-read-options-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

t.test('a pattern that matches nothing: "no archive matches PATTERN", exit 1 (read, ls, unpack)', async (t) => {
  const pattern = path.join(tmp, 'nothing-here', '*.shoebox')
  for (const args of [['read', pattern], ['ls', pattern], ['unpack', pattern, '--out', path.join(tmp, 'out')]]) {
    const r = await cli(args)
    t.equal(r.stderr, `shoebox ${args[0]}: no archive matches ${pattern}\n`, args[0])
    t.equal(r.code, 1, args[0])
    t.equal(r.stdout.length, 0, args[0])
  }
  // A directory that exists but holds nothing the pattern matches is the same.
  const empty = path.join(tmp, 'empty')
  fs.mkdirSync(empty)
  fs.writeFileSync(path.join(empty, 'notes.txt'), 'x')
  t.equal((await cli(['read', path.join(empty, '*.shoebox')])).code, 1)
  // A directory given as the pattern stands for the files directly in it: one that holds none (a subdirectory
  // only) is said to be such.
  const hollow = path.join(tmp, 'hollow')
  fs.mkdirSync(path.join(hollow, 'sub'), { recursive: true })
  for (const command of ['read', 'ls']) {
    for (const given of [hollow, `${hollow}/`, `file://${hollow}`]) {
      const r = await cli([command, given])
      t.equal(r.stderr, `shoebox ${command}: no archive matches ${given} (a directory with no files directly in it)\n`, `${command} ${given}`)
      t.equal(r.code, 1, command)
    }
  }
})

t.test('decode, verify and upload take file names: a quoted glob is named as such', async (t) => {
  const glob = path.join(tmp, 'nothing-here', '*.shoebox')
  const hint = '(a file name, not a glob: leave globs unquoted for the shell to expand)'
  const decoded = await cli(['decode', glob])
  t.equal(decoded.stderr, `shoebox decode: cannot read ${glob}: no such file or directory (ENOENT) ${hint}\n`)
  const verified = await cli(['verify', glob])
  t.equal(verified.stdout.toString(), `${glob}: UNREADABLE: cannot read ${glob}: no such file or directory (ENOENT) ${hint}\n`)
  const uploaded = await cli(['upload', glob, '--to', path.join(tmp, 'up')])
  t.equal(uploaded.stderr, `shoebox upload: cannot read ${glob}: no such file or directory (ENOENT) ${hint}; nothing was uploaded to ${pathToFileURL(path.join(tmp, 'up')).href}\n`)
  for (const r of [decoded, verified, uploaded]) t.equal(r.code, 1)
  const plain = await cli(['verify', path.join(tmp, 'no-such-file')])
  t.notMatch(plain.stdout.toString(), 'not a glob', 'a plain missing name gets no hint')
})

t.test('decode and verify read a file whose name is not UTF-8, as the shell passes it (each bad byte as U+FFFD)', async (t) => {
  // Node decodes arguments: the name arrives with U+FFFD in place of its bytes, and opening that path failed with
  // ENOENT on a file the shell had just listed (`shoebox verify *.shoebox`), which `read 'dir/*'` reads.
  const base = Buffer.from(path.join(tmp, 'not-utf8'))
  const raw = (...parts: Array<string | number[]>): Buffer => Buffer.concat([base, ...parts.map((p) => typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))])
  fs.mkdirSync(base)
  fs.mkdirSync(raw('/dir', [0xfe]))
  const archive = encodeRecords([{ payload: 'one' }, { payload: 'two' }])
  fs.writeFileSync(raw('/bad', [0xff], '.shoebox'), archive)
  fs.writeFileSync(raw('/dir', [0xfe], '/in', [0xe9], '.shoebox'), archive)
  for (const given of [path.join(base.toString(), 'bad\uFFFD.shoebox'), path.join(base.toString(), 'dir\uFFFD', 'in\uFFFD.shoebox')]) {
    const decoded = await cli(['decode', '--payload-only', given])
    t.equal(decoded.stderr, '', `decode ${given}`)
    t.equal(decoded.stdout.toString(), 'one\ntwo\n')
    t.equal(decoded.code, 0)
    const verified = await cli(['verify', given])
    t.equal(verified.stdout.toString(), `${given}: OK: 2 records (v1 0, v2 2), ${archive.length} bytes\n`)
    t.equal(verified.code, 0)
  }
  // Two names that read alike: which one was meant cannot be told, and neither is read.
  fs.writeFileSync(raw('/twin', [0xff], '.shoebox'), archive)
  fs.writeFileSync(raw('/twin', [0xfe], '.shoebox'), archive)
  const twin = path.join(base.toString(), 'twin\uFFFD.shoebox')
  const both = await cli(['decode', twin])
  t.equal(both.stderr, `shoebox decode: cannot read ${twin}: no such file or directory (ENOENT)\n`)
  t.equal(both.code, 1)
})

t.test('read and ls take a glob whose directory part is not UTF-8, as the shell passes it (each bad byte as U+FFFD)', async (t) => {
  // The glob's directory was walked by its decoded text, which names nothing: "no archive matches", exit 1.
  const base = Buffer.from(tempDir(t))
  const raw = (...parts: Array<string | number[]>): Buffer => Buffer.concat([base, ...parts.map((p) => Buffer.from(p))])
  fs.mkdirSync(raw('/logs', [0xfe]))
  fs.mkdirSync(raw('/logs', [0xfe], '/day', [0xe9]))
  fs.writeFileSync(raw('/logs', [0xfe], '/a.shoebox'), encodeRecords([{ payload: 'one' }, { payload: 'two' }]))
  fs.writeFileSync(raw('/logs', [0xfe], '/day', [0xe9], '/b', [0xff], '.shoebox'), encodeRecords([{ payload: 'three' }]))
  const dir = path.join(base.toString(), 'logs\uFFFD')
  for (const [pattern, payloads] of [[path.join(dir, '*.shoebox'), 'one\ntwo\n'], [path.join(dir, '**', '*.shoebox'), 'one\ntwo\nthree\n'], [path.join(dir, 'day\uFFFD', '*'), 'three\n']]) {
    const read = await cli(['read', '--payload-only', pattern])
    t.equal(read.stderr, '', `read ${pattern}`)
    t.equal(read.stdout.toString(), payloads)
    t.equal(read.code, 0)
    const listed = await cli(['ls', pattern])
    t.equal(listed.stderr, '', `ls ${pattern}`)
    t.equal(listed.code, 0)
    t.equal(listed.stdout.toString().split('\n').filter((line) => line.includes('.shoebox')).length, payloads.split('\n').length - 1 === 3 ? 2 : 1, 'a line per archive')
  }
})

t.test('archiveSource: SHOEBOX_NOT_FOUND naming the pattern; allowEmpty gives an empty stream; follow waits', async (t) => {
  const pattern = path.join(tmp, 'none', '*')
  await t.rejects(async () => { for await (const r of archiveSource(pattern)) t.fail(String(r)) }, { code: 'SHOEBOX_NOT_FOUND', message: `no archive matches ${pattern}` })
  const records: unknown[] = []
  for await (const r of archiveSource(pattern, { allowEmpty: true })) records.push(r)
  t.same(records, [], 'allowEmpty: ends cleanly with nothing')
  // Following an empty pattern waits for the first file.
  const later = path.join(tmp, 'later')
  fs.mkdirSync(later)
  const source = archiveSource(path.join(later, '*.shoebox'), { follow: true, pollInterval: 20 })
  const seen: string[] = []
  source.on('data', (r: ShoeboxRecord) => {
    seen.push(r.payload.toString())
    source.stop()
  })
  setTimeout(() => { fs.writeFileSync(path.join(later, 'a.shoebox'), encodeRecords([{ payload: 'first' }])) }, 100)
  await new Promise((resolve, reject) => { source.once('end', resolve).once('error', reject) })
  t.same(seen, ['first'])
})

t.test('ls exits 1 when it marks a file DAMAGED, 0 when all are sound', async (t) => {
  const d = path.join(tmp, 'ls')
  fs.mkdirSync(d)
  fs.writeFileSync(path.join(d, 'a.shoebox'), encodeRecords([{ payload: 'a' }]))
  const sound = await cli(['ls', path.join(d, '*')])
  t.equal(sound.code, 0)
  fs.writeFileSync(path.join(d, 'b.shoebox'), damagedArchive(Array.from({ length: 100 }, (_, i) => String(i)), 2000).bytes)
  const r = await cli(['ls', path.join(d, '*')])
  t.match(r.stdout.toString(), /b\.shoebox\t99 records.*DAMAGED/)
  t.match(r.stdout.toString(), /^2 files, 100 records/m, 'the listing is complete')
  t.equal(r.code, 1)
})

t.test('--max-record-size: a 70 MiB record fails by default and reads with 100MiB (read, decode, verify, ls)', async (t) => {
  const d = path.join(tmp, 'big')
  fs.mkdirSync(d)
  const payload = Buffer.alloc(70 * 1024 * 1024, 'x')
  const file = path.join(d, 'big.shoebox')
  // Written with a raised limit: writers refuse what readers refuse by default.
  fs.writeFileSync(file, encodeRecords([{ payload }, { payload: 'after' }], { maxRecordSize: 100 * 1024 * 1024 }))
  const refused = await cli(['read', path.join(d, '*'), '--payload-only'])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^shoebox read: .*big\.shoebox: at byte 0: record-too-large/)
  const read = await cli(['read', path.join(d, '*'), '--payload-only', '--max-record-size', '100MiB'])
  t.equal(read.code, 0, read.stderr)
  t.equal(read.stdout.length, payload.length + 1 + 'after\n'.length)
  t.ok(read.stdout.subarray(payload.length + 1).equals(Buffer.from('after\n')))
  const decode = await cli(['decode', '--payload-only', '--max-record-size', '100MiB', file])
  t.equal(decode.code, 0, decode.stderr)
  t.equal(decode.stdout.length, payload.length + 'after\n'.length + 1)
  t.equal((await cli(['decode', file])).code, 1, 'decode refuses it by default')
  const verify = await cli(['verify', file])
  t.equal(verify.code, 1)
  t.match(verify.stdout.toString(), /record-too-large/)
  const verified = await cli(['verify', '--max-record-size', '100MiB', file])
  t.match(verified.stdout.toString(), /: OK: 2 records/)
  t.equal(verified.code, 0)
  const ls = await cli(['ls', '--max-record-size', '100MiB', path.join(d, '*')])
  t.match(ls.stdout.toString(), /big\.shoebox\t2 records/)
  t.equal(ls.code, 0)
  for (const [bad, reason] of [
    ['lots', 'expected a size such as 100MiB, 10MB or 4096, got "lots"'],
    ['0', 'must be at least 26 bytes, got "0"'],
    ['10', 'must be at least 26 bytes, got "10"'],
    ['-5MiB', 'expected a size such as 100MiB, 10MB or 4096, got "-5MiB"']
  ]) {
    const r = await cli(['read', path.join(d, '*'), `--max-record-size=${bad}`])
    t.equal(r.code, 2, `--max-record-size ${bad} is a usage error`)
    t.equal(r.stderr, `shoebox read: --max-record-size: ${reason}\n(try 'shoebox read --help')\n`, bad)
  }
})

t.test('decode of an empty directory: "cannot read DIR: is a directory with no files directly in it", one line, exit 1', async (t) => {
  // One that holds files stands for them (cli-directory-args.test.ts).
  const empty = fs.mkdtempSync(path.join(tmp, 'empty-'))
  const r = await cli(['decode', empty])
  t.equal(r.stderr, `shoebox decode: cannot read ${empty}: is a directory with no files directly in it\n`)
  t.equal(r.code, 1)
  t.equal(r.stdout.length, 0)
})

t.test('unpack --out DIR whose name is not UTF-8 (each bad byte as U+FFFD) is refused: it would restore into another directory, made beside it', async (t) => {
  const base = path.join(tmp, 'unpack-not-utf8')
  fs.mkdirSync(path.join(base, 'src'), { recursive: true })
  fs.writeFileSync(path.join(base, 'src', 'a.txt'), 'a')
  t.equal((await cli(['pack', path.join(base, 'src'), '--to', path.join(base, 'packed')])).code, 0)
  const named = Buffer.concat([Buffer.from(path.join(base, 'out')), Buffer.from([0xe9])])
  fs.mkdirSync(named)
  const given = path.join(base, 'out\uFFFD')
  const r = await cli(['unpack', path.join(base, 'packed', '*'), '--out', given])
  t.equal(r.stderr, `shoebox unpack: cannot write into ${given}: its name is not UTF-8 (each bad byte arrives as U+FFFD), and a directory of the name as it reads would be another one; nothing written (rename it, or run 'shoebox unpack ... --out .' inside it)\n`)
  t.equal(r.code, 1)
  t.same(fs.readdirSync(base, { encoding: 'buffer' }).filter((n) => n.subarray(0, 3).toString() === 'out'), [named.subarray(base.length + 1)], 'no other directory made')
  t.same(fs.readdirSync(named), [], 'nothing restored')
})

t.test('a record over --max-record-size: every reading command names the flag, not the API\'s maxRecordSize', async (t) => {
  const d = tempDir(t)
  const file = path.join(d, 'wide.shoebox')
  fs.writeFileSync(file, encodeRecords([{ payload: 'x'.repeat(5000) }, { payload: 'after' }], { maxRecordSize: 8192 }))
  const strict = await cli(['decode', '--max-record-size', '4KiB', file])
  const lenient = await cli(['decode', '--lenient', '--max-record-size', '4KiB', file])
  const read = await cli(['read', path.join(d, '*'), '--lenient', '--max-record-size', '4KiB'])
  const verify = await cli(['verify', '--max-record-size', '4KiB', file])
  for (const [name, text] of [['decode', strict.stderr], ['decode --lenient', lenient.stderr], ['read --lenient', read.stderr], ['verify', verify.stdout.toString()]]) {
    t.match(text, /record of \d+ bytes exceeds --max-record-size 4096/, name)
    t.notMatch(text, 'maxRecordSize', name)
  }
  t.equal(strict.code, 1)
})
