/**
 * Failures of `shoebox write` and `shoebox recover` are one line that names
 * the file or directory and says what was kept (issue 9, A9): a file where
 * the directory should be, a directory this user cannot write (the CLI runs
 * as an unprivileged user when the tests run as root, who ignores permission
 * bits), and a full disk (a preload makes file writes fail with ENOSPC after
 * a byte budget, so the real sink meets a real-shaped error). Then the
 * sealed files are intact and recovery brings back every flushed record.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { hostName, tempName } from '../../lib/roll/names.js'
import { cli } from '../cli-run.js'
import { buildCli } from '../fixtures-s3/cli-build.js'
import { checkReachableByOthers, runCli, type ChildOptions, type ChildResult } from '../fixtures-roll/cli-child.js'
import { encodeRecords } from '../../lib/index.js'
import { archiveNames, deadPid, decodeFile, tempDir, tempNames } from '../fixtures-roll/util.js'
import { ROOT, transpileTree } from '../transpile.js'

const ENOSPC_TS = fileURLToPath(new URL('../fixtures-roll/enospc.ts', import.meta.url))

/** Build outputs readable by any user (mkdtemp makes 0700 directories). */
function openDir (prefix: string): string {
  const dir = tempDir(t, prefix)
  fs.chmodSync(dir, 0o755)
  return dir
}

// A copy of its own, not cliBinary()'s: the CLI runs as another user here, and cliBinary()'s directory (mkdtemp,
// 0700) is closed to them.
const bin = buildCli(openDir('shoebox-cli-errors-bin-'))
const preload = transpileTree(ENOSPC_TS, openDir('shoebox-cli-errors-pre-'))
const root = process.getuid?.() === 0

function run (args: string[], stdin: string, options: ChildOptions = {}): Promise<ChildResult> {
  if (options.uid !== undefined) {
    for (const needed of [bin, path.join(ROOT, 'node_modules', 'readable-stream', 'package.json')]) checkReachableByOthers(needed)
  }
  return runCli(t, bin, args, stdin, options)
}

function payloads (file: string): string[] {
  return decodeFile(file).map((d) => d.record.payload.toString('utf8'))
}

t.test('write into a path that is a file: "a file is in the way", exit 1, nothing created', async (t) => {
  const base = tempDir(t)
  const file = path.join(base, 'afile')
  fs.writeFileSync(file, 'keep me\n')
  const r = await cli(['write', file], '{"a":1}\n')
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox write: cannot create directory ${file}: a file is in the way (EEXIST)\n`)
  const under = path.join(file, 'sub')
  const r2 = await cli(['write', under], '{"a":1}\n')
  t.equal(r2.code, 1)
  t.equal(r2.stderr, `shoebox write: cannot create directory ${under}: a file is in the way (ENOTDIR)\n`)
  t.equal(fs.readFileSync(file, 'utf8'), 'keep me\n', 'the file is untouched')
  t.same(fs.readdirSync(base), ['afile'], 'nothing created')
})

t.test('recover of a file or of a missing directory: one line naming it, exit 1', async (t) => {
  const base = tempDir(t)
  const file = path.join(base, 'hostname')
  fs.writeFileSync(file, 'box\n')
  const r = await cli(['recover', file])
  t.equal(r.code, 1)
  t.equal(r.stdout.toString(), '')
  t.equal(r.stderr, `shoebox recover: cannot recover ${file}: not a directory (ENOTDIR)\n`)
  const missing = path.join(base, 'missing')
  const m = await cli(['recover', missing])
  t.equal(m.code, 1)
  t.equal(m.stderr, `shoebox recover: cannot recover ${missing}: no such file or directory (ENOENT)\n`)
  t.same(fs.readdirSync(base), ['hostname'], 'nothing created')
})

t.test('write into a directory this user cannot write: names the temporary file, says nothing was sealed', async (t) => {
  const base = openDir('shoebox-cli-errors-ro-')
  const dir = path.join(base, 'ro')
  fs.mkdirSync(dir)
  fs.chmodSync(dir, 0o555)
  t.teardown(() => { fs.chmodSync(dir, 0o755) })
  // Root ignores permission bits: run the command as nobody then.
  const r = await run(['write', dir, '--template', 'x-{seq}.shoebox'], '{"a":1}\n{"a":2}\n{"a":3}\n', root ? { uid: 65534 } : {})
  // Named with the child's pid and start (roll/names.ts), which cannot be read once it is gone.
  const temp = escape(path.join(dir, tempName('x-000000.shoebox', hostName(), r.pid)).slice(0, -'.part'.length)) + '-\\d+-[0-9a-f]{8}\\.part'
  t.match(r.stderr, new RegExp(`^${escape('shoebox write: cannot create ')}${temp}${escape(`: permission denied (EACCES); no file sealed in ${dir}, 3 records read from stdin never reached a file\n`)}$`))
  t.equal(r.code, 1)
  t.same(fs.readdirSync(dir), [], 'nothing created')
})

t.test('a full disk (ENOSPC) mid-file: the line names the file, counts what was sealed and what recovery will bring back', async (t) => {
  const pad = 'x'.repeat(10_000)
  const lines = Array.from({ length: 1200 }, (_, i) => JSON.stringify({ i, text: 'héllo 📦', pad }))
  const input = lines.join('\n') + '\n'
  const args = ['--template', 'e-{seq}.shoebox', '--roll-records', '300', '--flush-interval', '1h']
  // The same write on a disk with room: the bytes every file gets, and where file 3's first block (1 MiB) ends.
  const ref = tempDir(t)
  const full = await cli(['write', ref, ...args], input)
  t.equal(full.code, 0, full.stderr)
  const refNames = archiveNames(ref)
  t.same(refNames, ['e-000000.shoebox', 'e-000001.shoebox', 'e-000002.shoebox', 'e-000003.shoebox'])
  const sizes = refNames.map((n) => fs.statSync(path.join(ref, n)).size)
  const fourth = decodeFile(path.join(ref, refNames[3]))
  const firstBlock = fourth.findIndex((d) => d.offset + d.size >= 1024 * 1024) + 1
  t.ok(firstBlock > 1 && firstBlock < 300, `file 3's first block holds ${firstBlock} records`)
  // The disk fills 1.5 MiB into file 3: its first block is written whole, the second in part.
  const cut = 1.5 * 1024 * 1024
  const budget = sizes[0] + sizes[1] + sizes[2] + cut
  const whole = fourth.filter((d) => d.offset + d.size <= cut)

  const base = openDir('shoebox-cli-errors-full-')
  const dir = path.join(base, 'data')
  const r = await run(['write', dir, ...args], input, {
    nodeArgs: ['--import', pathToFileURL(preload).href],
    env: { SHOEBOX_TEST_ENOSPC_AFTER: String(budget) }
  })
  t.equal(r.code, 1, 'exit 1')
  // The one the child left, named with its pid and start (roll/names.ts).
  const temp = path.join(dir, tempNames(dir)[0] ?? '')
  t.match(path.basename(temp), new RegExp(`^${escape(tempName('e-000003.shoebox', hostName(), r.pid).slice(0, -'.part'.length))}-\\d+-[0-9a-f]{8}\\.part$`), 'the unsealed file, named with the child\'s pid and start')
  const unsealed = (firstBlock).toLocaleString('en-US')
  const line = new RegExp('^' + escape(`shoebox write: cannot write ${temp}: no space left on device (ENOSPC); 3 files sealed (900 records) in ${dir}, ` +
    `${unsealed} records in the unsealed file ${temp}, and up to `) + '(\\d+)' + escape(' more written to it in part, will be recovered on the next start (or by shoebox recover), ') +
    '(\\d+) records read from stdin never reached a file\n$')
  t.match(r.stderr, line, 'one line: the file, the errno in words, what was sealed, what recovery brings back')
  const [inPart, lost] = [Number(line.exec(r.stderr)?.[1]), Number(line.exec(r.stderr)?.[2])]
  t.ok(inPart >= 1 && firstBlock + inPart <= 300, `the records of the block the disk took in part are counted apart (${inPart})`)
  t.ok(lost >= 0 && lost <= 300 - firstBlock - inPart, `the records read and never written are counted apart (${lost})`)

  t.same(archiveNames(dir), refNames.slice(0, 3), 'three files sealed')
  for (const name of refNames.slice(0, 3)) {
    t.ok(fs.readFileSync(path.join(dir, name)).equals(fs.readFileSync(path.join(ref, name))), `${name} is intact`)
  }
  t.same(tempNames(dir), [path.basename(temp)], 'the unsealed file is left for recovery')
  t.equal(fs.statSync(temp).size, cut, 'the disk took what fitted')

  const rec = await cli(['recover', dir])
  t.equal(rec.code, 0, rec.stderr)
  t.equal(rec.stdout.toString(), `recovered ${temp} -> ${path.join(dir, refNames[3])}: ${whole.length} records kept, ${cut - (whole.at(-1)?.offset ?? 0) - (whole.at(-1)?.size ?? 0)} bytes dropped\n`)
  t.ok(whole.length >= firstBlock && whole.length <= firstBlock + inPart, 'every flushed record is recovered, and at most those written in part besides')
  const back = archiveNames(dir).flatMap((n) => payloads(path.join(dir, n)))
  t.same(back, lines.slice(0, 900 + whole.length), 'the sealed files and the recovered one hold the written lines, in order')
})

function escape (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}


t.test('recover that fails part-way: names the file, and says how many were recovered before it', async (t) => {
  const base = openDir('shoebox-cli-errors-recover-')
  const dir = path.join(base, 'd')
  fs.mkdirSync(dir)
  fs.chmodSync(dir, 0o777)
  const pid = await deadPid()
  const host = hostName()
  const first = path.join(dir, tempName('a.shoebox', host, pid))
  const second = path.join(dir, tempName('b.shoebox', host, pid))
  fs.writeFileSync(first, encodeRecords([{ payload: 'a' }]), { mode: 0o666 })
  fs.chmodSync(first, 0o666)
  fs.writeFileSync(second, encodeRecords([{ payload: 'b' }]))
  fs.chmodSync(second, 0o000)
  const r = await run(['recover', dir], '', root ? { uid: 65534 } : {})
  t.equal(r.stdout.toString(), `recovered ${first} -> ${path.join(dir, 'a.shoebox')}: 1 record kept, 0 bytes dropped\n`, 'the file recovered before the failure is listed')
  t.equal(r.stderr, `shoebox recover: cannot read ${second}: permission denied (EACCES); 1 file recovered before it (listed above), the rest left as they were\n`)
  t.equal(r.code, 1)
  t.same(fs.readdirSync(dir).sort(), [path.basename(second), 'a.shoebox'].sort(), 'the unreadable file is left as it was')
  t.same(payloads(path.join(dir, 'a.shoebox')), ['a'])
})

t.test('recover DIR whose name is not UTF-8, as the shell passes it (each bad byte as U+FFFD), is refused saying so, not ENOENT', async (t) => {
  const base = tempDir(t)
  const named = Buffer.concat([Buffer.from(path.join(base, 'caf')), Buffer.from([0xe9])])
  fs.mkdirSync(named)
  const given = path.join(base, 'caf\uFFFD')
  const r = await cli(['recover', given])
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox recover: cannot recover the files in ${given}: its name is not UTF-8 (each bad byte arrives as U+FFFD), and the name as it reads is no directory; nothing done (rename it, or run 'shoebox recover .' inside it)\n`)
  t.same(fs.readdirSync(base, { encoding: 'buffer' }), [Buffer.from([0x63, 0x61, 0x66, 0xe9])], 'no other directory made')
})

t.test('recover skips another host\'s file saying the flag that recovers it (--force)', async (t) => {
  const dir = tempDir(t, 'shoebox-other-host-')
  fs.writeFileSync(path.join(dir, tempName('o-000000.shoebox', 'elsewhere', 4242)), encodeRecords([{ payload: 'x' }]))
  const r = await cli(['recover', dir])
  t.equal(r.code, 0)
  t.match(r.stdout.toString(), /^skipped .*: written by host elsewhere; recover with --force if that writer is gone\n/)
})

t.test('write into a read-only directory holding a dead writer\'s file: says it was recovering that file, that nothing was written and the file is kept', async (t) => {
  // A preload makes the files of this directory read-only (EROFS on open for writing and on truncate), as a
  // remount read-only does: the dead writer's torn file cannot be cut back. It said only "cannot truncate ...".
  const erofs = transpileTree(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)), openDir('shoebox-cli-errors-erofs-'))
  const dir = openDir('shoebox-cli-errors-rofs-')
  const temp = path.join(dir, tempName('x-000000.shoebox', hostName(), await deadPid()))
  const torn = Buffer.concat([encodeRecords([{ payload: 'kept' }]), Buffer.from('torn')])
  fs.writeFileSync(temp, torn)
  const env = { SHOEBOX_TEST_EROFS_FILES: '^' + escape(dir + path.sep) }
  const r = await run(['write', dir, '--template', 'x-{seq}.shoebox'], '{"a":1}\n', { nodeArgs: ['--import', pathToFileURL(erofs).href], env })
  t.equal(r.stderr, `shoebox write: cannot truncate ${temp}: read-only file system (EROFS); recovering the files an earlier writer left in ${dir}, ` +
    'before writing: nothing written, that file left for the next start (or shoebox recover)\n')
  t.equal(r.code, 1)
  t.same(fs.readdirSync(dir), [path.basename(temp)], 'nothing written')
  t.same(fs.readFileSync(temp), torn, 'the file is as it was')
  // Writable again: the next run recovers the file and writes.
  const again = await cli(['write', dir, '--template', 'x-{seq}.shoebox'], '{"a":1}\n')
  t.equal(again.code, 0, again.stderr)
  t.same(archiveNames(dir).flatMap((name) => payloads(path.join(dir, name))).sort(), ['kept', '{"a":1}'], 'the dead writer\'s record, recovered, and the new one')
})

t.test('recover of a read-only directory: the line says nothing was recovered and the files are left as they were', async (t) => {
  const erofs = transpileTree(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)), openDir('shoebox-cli-errors-erofs-'))
  const dir = openDir('shoebox-cli-errors-rofs-')
  const temp = path.join(dir, tempName('x.shoebox', hostName(), await deadPid()))
  fs.writeFileSync(temp, encodeRecords([{ payload: 'kept' }]))
  const env = { SHOEBOX_TEST_EROFS_FILES: '^' + escape(dir + path.sep) }
  const r = await run(['recover', dir], '', { nodeArgs: ['--import', pathToFileURL(erofs).href], env })
  t.equal(r.stderr, `shoebox recover: cannot fsync ${temp}: read-only file system (EROFS); nothing recovered, the files left as they were\n`)
  t.equal(r.code, 1)
  t.same(fs.readdirSync(dir), [path.basename(temp)])
  const again = await cli(['recover', dir])
  t.equal(again.code, 0, again.stderr)
  t.same(payloads(path.join(dir, 'x.shoebox')), ['kept'])
})

t.test('write --to: an .uploaded marker that cannot be written (a full or read-only DIR) is said as such, not tried again; the next run marks the file', async (t) => {
  const erofs = transpileTree(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)), openDir('shoebox-cli-errors-erofs-'))
  const dir = path.join(openDir('shoebox-cli-errors-marker-'), 'data')
  const store = openDir('shoebox-cli-errors-store-')
  const input = Array.from({ length: 100 }, (_, i) => JSON.stringify({ i })).join('\n') + '\n'
  const args = ['write', dir, '--to', pathToFileURL(store).href, '--template', 'm-{seq}.shoebox', '--roll-records', '50']
  const r = await run(args, input, { nodeArgs: ['--import', pathToFileURL(erofs).href], env: { SHOEBOX_TEST_EROFS_FILES: '\\.uploaded\\.tmp$' } })
  t.equal(r.code, 1)
  const lines = r.stderr.split('\n')
  for (const name of ['m-000000.shoebox', 'm-000001.shoebox']) {
    const marker = path.join(dir, `.${name}.uploaded`)
    t.ok(lines.includes(`shoebox write: upload of ${path.join(dir, name)} failed; it stays queued in the directory: ${path.join(dir, name)} is uploaded as ${name}, ` +
      `but its marker ${marker} cannot be written: read-only file system (EROFS); the next run uploads it again`), `${name}: the marker named, not a bare errno: ${r.stderr}`)
  }
  t.match(r.stderr, /^shoebox write: uploaded 2 objects, /m, 'each file uploaded once, not once a try (6 objects)')
  t.same(fs.readdirSync(store).sort(), ['m-000000.shoebox', 'm-000001.shoebox'], 'both files are in the store')
  t.same(fs.readdirSync(dir).sort(), ['m-000000.shoebox', 'm-000001.shoebox'], 'no marker, no temporary marker left')
  const again = await cli(['write', dir, '--to', pathToFileURL(store).href], '')
  t.equal(again.code, 0, again.stderr)
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploaded')).sort(), ['.m-000000.shoebox.uploaded', '.m-000001.shoebox.uploaded'], 'marked by the next run')
})

t.test('write --to: an .uploading marker that cannot be written is said as such (not as the store\'s failure), not tried again; nothing uploaded', async (t) => {
  // It said "file:///...: put m-000000.shoebox: read-only file system (EROFS)", the store blamed for a local marker.
  const erofs = transpileTree(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)), openDir('shoebox-cli-errors-erofs-'))
  const dir = path.join(openDir('shoebox-cli-errors-uploading-'), 'data')
  const store = openDir('shoebox-cli-errors-store-')
  const input = Array.from({ length: 100 }, (_, i) => JSON.stringify({ i })).join('\n') + '\n'
  const args = ['write', dir, '--to', pathToFileURL(store).href, '--template', 'm-{seq}.shoebox', '--roll-records', '50']
  const r = await run(args, input, { nodeArgs: ['--import', pathToFileURL(erofs).href], env: { SHOEBOX_TEST_EROFS_FILES: '\\.uploading$' } })
  t.equal(r.code, 1)
  const lines = r.stderr.split('\n')
  for (const name of ['m-000000.shoebox', 'm-000001.shoebox']) {
    const file = path.join(dir, name)
    const expected = `shoebox write: upload of ${file} failed; it stays queued in the directory: cannot write ${path.join(dir, `.${name}.uploading`)}, ` +
      `the upload marker of ${file}: read-only file system (EROFS); nothing uploaded`
    t.equal(lines.filter((l) => l === expected).length, 1, `${name}: the marker named, once (not tried again): ${r.stderr}`)
  }
  t.match(r.stderr, /^shoebox write: nothing transferred$/m)
  t.same(fs.readdirSync(store), [], 'nothing in the store')
  t.same(fs.readdirSync(dir).sort(), ['m-000000.shoebox', 'm-000001.shoebox'], 'both files queued, no marker')
  const again = await cli(['write', dir, '--to', pathToFileURL(store).href], '')
  t.equal(again.code, 0, again.stderr)
  t.same(fs.readdirSync(store).sort(), ['m-000000.shoebox', 'm-000001.shoebox'], 'uploaded by the next run')
})

t.test('write --to: an .uploading marker that cannot be removed after its upload is said as such, not tried again; the next run uploads the file once more and marks it', async (t) => {
  // A directory remounted read-only after the marker was written: it said "EROFS: read-only file system, unlink '...'", three tries each.
  const erofs = transpileTree(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)), openDir('shoebox-cli-errors-erofs-'))
  const dir = path.join(openDir('shoebox-cli-errors-uploading-'), 'data')
  const store = openDir('shoebox-cli-errors-store-')
  const input = Array.from({ length: 100 }, (_, i) => JSON.stringify({ i })).join('\n') + '\n'
  const args = ['write', dir, '--to', pathToFileURL(store).href, '--template', 'm-{seq}.shoebox', '--roll-records', '50']
  const r = await run(args, input, { nodeArgs: ['--import', pathToFileURL(erofs).href], env: { SHOEBOX_TEST_EROFS_REMOVALS: '\\.uploading$' } })
  t.equal(r.code, 1)
  const lines = r.stderr.split('\n')
  for (const name of ['m-000000.shoebox', 'm-000001.shoebox']) {
    const file = path.join(dir, name)
    const expected = `shoebox write: upload of ${file} failed; it stays queued in the directory: cannot remove ${path.join(dir, `.${name}.uploading`)}, ` +
      `the upload marker of ${file}, uploaded as ${name}: read-only file system (EROFS); the next run that can remove it uploads the file again`
    t.equal(lines.filter((l) => l === expected).length, 1, `${name}: the marker named, once (not tried again): ${r.stderr}`)
  }
  t.match(r.stderr, /^shoebox write: uploaded 2 objects, /m, 'each file uploaded once')
  t.same(fs.readdirSync(store).sort(), ['m-000000.shoebox', 'm-000001.shoebox'], 'both files are in the store')
  t.same(fs.readdirSync(dir).sort(), ['.m-000000.shoebox.uploading', '.m-000001.shoebox.uploading', 'm-000000.shoebox', 'm-000001.shoebox'], 'the markers kept, no .uploaded')
  const again = await cli(['write', dir, '--to', pathToFileURL(store).href], '')
  t.equal(again.code, 0, again.stderr)
  t.same(fs.readdirSync(dir).sort(), ['.m-000000.shoebox.uploaded', '.m-000001.shoebox.uploaded', 'm-000000.shoebox', 'm-000001.shoebox'], 'marked by the next run, the .uploading markers gone')
  t.same(payloads(path.join(store, 'm-000001.shoebox')).length, 50)
})
