/**
 * `shoebox unpack --out DIR` where DIR cannot take the files: a read-only
 * mount (EROFS) or a full disk (ENOSPC), made by a preload as a remount or a
 * filling disk does (tests must not mount). Whichever file fails, the first
 * or a later one, the line says what was restored and that no partial file
 * is left.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { encodeRecords, type RecordInput } from '../../lib/index.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { runCli } from '../fixtures-roll/cli-child.js'
import { tempDir } from '../temp-dir.js'
import { transpiledOnce } from '../transpile.js'

const bin = cliBinary()
const erofs = pathToFileURL(transpiledOnce(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)))).href
const enospc = pathToFileURL(transpiledOnce(fileURLToPath(new URL('../fixtures-roll/enospc.ts', import.meta.url)))).href

function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function packRecord (rel: string, payload: string): RecordInput {
  const bytes = Buffer.from(payload)
  return {
    metadata: [['path', rel], ['size', String(bytes.length)], ['mode', '0644'], ['sha256', createHash('sha256').update(bytes).digest('hex')]],
    payload: bytes
  }
}

/** An archive of files a.txt, b.txt... of 7 bytes each, and an empty output directory. */
function setUp (t: Test, files: number): { archive: string, out: string } {
  const base = fs.realpathSync(tempDir(t))
  const archive = path.join(base, 'files.shoebox')
  fs.writeFileSync(archive, encodeRecords(Array.from({ length: files }, (_, i) => packRecord(`${String.fromCharCode(97 + i)}.txt`, `file ${i}\n`))))
  const out = path.join(base, 'out')
  fs.mkdirSync(out)
  return { archive, out }
}

t.test('a read-only DIR: the first file fails, and the line says nothing was restored', async (t) => {
  const { archive, out } = setUp(t, 2)
  const r = await runCli(t, bin, ['unpack', archive, '--out', out], '', {
    nodeArgs: ['--import', erofs], env: { SHOEBOX_TEST_EROFS_FILES: '^' + escape(out + path.sep) }
  })
  t.equal(r.stderr, `shoebox unpack: ${archive} (record at byte 0): cannot restore "a.txt" as ${path.join(out, 'a.txt')}: read-only file system (EROFS); nothing restored into ${out}\n`)
  t.equal(r.code, 1)
  t.same(fs.readdirSync(out), [], 'nothing written')
})

t.test('a disk full at the first file: the line says nothing was restored, no partial file is left', async (t) => {
  const { archive, out } = setUp(t, 1)
  const r = await runCli(t, bin, ['unpack', archive, '--out', out], '', {
    nodeArgs: ['--import', enospc], env: { SHOEBOX_TEST_ENOSPC_AFTER: '3', SHOEBOX_TEST_ENOSPC_FILES: '\\.shoebox-unpack-' }
  })
  t.equal(r.stderr, `shoebox unpack: ${archive} (record at byte 0): cannot restore "a.txt" as ${path.join(out, 'a.txt')}: no space left on device (ENOSPC); nothing restored into ${out}\n`)
  t.equal(r.code, 1)
  t.same(fs.readdirSync(out), [], 'no partial file, no temporary file')
})

t.test('a disk full at the second file: the line says the first file stays, as for a later file\'s refusal', async (t) => {
  const { archive, out } = setUp(t, 2)
  // Room for one file of the two (written at once: either may be first).
  const r = await runCli(t, bin, ['unpack', archive, '--out', out], '', {
    nodeArgs: ['--import', enospc], env: { SHOEBOX_TEST_ENOSPC_AFTER: '10', SHOEBOX_TEST_ENOSPC_FILES: '\\.shoebox-unpack-' }
  })
  t.match(r.stderr, new RegExp(`^shoebox unpack: ${escape(archive)} \\(record at byte \\d+\\): cannot restore "[ab]\\.txt" as ${escape(out)}/[ab]\\.txt: ` +
    `no space left on device \\(ENOSPC\\); 1 file restored before it stays in ${escape(out)}\n$`))
  t.equal(r.code, 1)
  const left = fs.readdirSync(out)
  t.equal(left.length, 1, 'the one file restored, no temporary file')
  t.match(fs.readFileSync(path.join(out, left[0]), 'utf8'), /^file [01]\n$/, 'whole')
})
