/**
 * `shoebox upload --to file://DIR` where DIR cannot take the files: a
 * read-only mount (EROFS) or a full disk (ENOSPC). A preload makes DIR's
 * files fail so, as a remount or a filling disk does (tests must not mount):
 * the one line names the file, the destination, and says what was uploaded
 * (nothing, or the files listed) and that the file is kept.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { runCli } from '../fixtures-roll/cli-child.js'
import { tempDir } from '../fixtures-roll/util.js'
import { transpiledOnce } from '../transpile.js'

const bin = cliBinary()
const erofs = pathToFileURL(transpiledOnce(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)))).href
const enospc = pathToFileURL(transpiledOnce(fileURLToPath(new URL('../fixtures-roll/enospc.ts', import.meta.url)))).href

function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

t.test('a read-only directory store: the line names the file and the destination, says nothing was uploaded and the file is kept', async (t) => {
  const base = tempDir(t)
  const dir = path.join(base, 'store')
  fs.mkdirSync(dir)
  const file = path.join(base, 'a.bin')
  fs.writeFileSync(file, 'alpha\n')
  const to = pathToFileURL(dir).href
  const r = await runCli(t, bin, ['upload', file, '--to', to, '--delete-local'], '', {
    nodeArgs: ['--import', erofs], env: { SHOEBOX_TEST_EROFS_FILES: '^' + escape(dir + path.sep) }
  })
  t.equal(r.stderr, `shoebox upload: ${to}: put a.bin: read-only file system (EROFS); ${file} is kept; nothing was uploaded to ${to}\n`)
  t.equal(r.code, 1)
  t.equal(r.stdout.toString(), '')
  t.equal(fs.readFileSync(file, 'utf8'), 'alpha\n', 'the file is kept')
  t.same(fs.readdirSync(dir), [], 'no object, no temporary file')
})

t.test('a directory store whose disk fills at the second file: the line names that file, says it is kept and which were uploaded', async (t) => {
  const base = tempDir(t)
  const dir = path.join(base, 'store')
  fs.mkdirSync(dir)
  const files = ['a.bin', 'b.bin', 'c.bin'].map((name) => path.join(base, name))
  files.forEach((f, i) => { fs.writeFileSync(f, `file ${i}\n`) })
  const to = pathToFileURL(dir).href
  // Room for the first file's 7 bytes, and for 3 of the second's.
  const r = await runCli(t, bin, ['upload', ...files, '--to', to, '--concurrency', '1', '--delete-local'], '', {
    nodeArgs: ['--import', enospc], env: { SHOEBOX_TEST_ENOSPC_AFTER: '10', SHOEBOX_TEST_ENOSPC_FILES: '^' + escape(dir + path.sep) }
  })
  t.equal(r.stderr, `shoebox upload: ${to}: put b.bin: no space left on device (ENOSPC); ${files[1]} is kept; 1 file uploaded to ${to} (listed on stdout)\n`)
  t.equal(r.code, 1)
  t.same(r.stdout.toString().split('\n').filter((l) => l !== '').map((l) => l.split('\t').slice(0, 2)), [[files[0], `${to}/a.bin`]])
  t.notOk(fs.existsSync(files[0]), 'the uploaded file deleted (--delete-local)')
  t.equal(fs.readFileSync(files[1], 'utf8'), 'file 1\n', 'the failed file kept')
  t.equal(fs.readFileSync(files[2], 'utf8'), 'file 2\n', 'the file never started kept')
  t.same(fs.readdirSync(dir), ['a.bin'], 'the uploaded object only: no partial object, no temporary file')
})
