/**
 * Many ETL jobs are CommonJS: `require('shoebox')` must work (Node 20.19+
 * loads an ES module through require() unless it has top-level await). The
 * package is built from the current sources into a directory named like the
 * package, and a .cjs file there requires it by name and round-trips records.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { ROOT, transpileTree } from './transpile.js'

const run = promisify(execFile)

t.test('a CommonJS file can require("shoebox") and use it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cjs-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  transpileTree(path.join(ROOT, 'lib/index.ts'), dir, { name: 'shoebox', exports: './lib/index.js' })
  fs.writeFileSync(path.join(dir, 'job.cjs'), `
const { encodeRecords, decode, crc32 } = require('shoebox')
const { Readable } = require('node:stream')
const bytes = encodeRecords([{ metadata: { k: 'v' }, payload: { n: 1 } }, { payload: 'two' }])
const out = []
Readable.from([bytes]).pipe(decode())
  .on('data', (r) => out.push([r.metadata, r.payload.toString()]))
  .on('end', () => console.log(JSON.stringify({ out, crc: crc32(Buffer.from('shoebox')) })))
`)
  const { stdout, stderr } = await run(process.execPath, ['--no-warnings', path.join(dir, 'job.cjs')], { cwd: dir })
  t.equal(stderr, '', 'nothing on stderr')
  t.same(JSON.parse(stdout), {
    out: [[{ k: 'v' }, '{"n":1}'], [{}, 'two']],
    crc: 1144647290 // zlib.crc32('shoebox')
  })
})
