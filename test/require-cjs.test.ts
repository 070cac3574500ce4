/**
 * Many ETL jobs are CommonJS: `require('shoebox')` must work (Node 20.19+
 * loads an ES module through require() unless it has top-level await). The
 * package is built from the current sources into a directory named like the
 * package, and a .cjs file there requires it by name and round-trips records.
 * Warnings are left on: the empty stderr is what a CommonJS user sees on the
 * Node running the suite (none on 20.20, 22.23 or 24.22).
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import ts from 'typescript'
import { tempDir } from './temp-dir.js'
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
  const { stdout, stderr } = await run(process.execPath, [path.join(dir, 'job.cjs')], { cwd: dir })
  t.equal(stderr, '', 'nothing on stderr')
  t.same(JSON.parse(stdout), {
    out: [[{ k: 'v' }, '{"n":1}'], [{}, 'two']],
    crc: 1144647290 // zlib.crc32('shoebox')
  })
})

t.test('a CommonJS file can require("shoebox/events") and require("shoebox/meta")', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cjs-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const exports = { '.': './lib/index.js', './events': './lib/events/index.js', './meta': './lib/meta/index.js' }
  for (const entry of ['lib/events/index.ts', 'lib/meta/index.ts']) transpileTree(path.join(ROOT, entry), dir, { name: 'shoebox', exports })
  fs.writeFileSync(path.join(dir, 'job.cjs'), `
const { newEventId, eventIdTime, formatKronosTime } = require('shoebox/events')
const { flattenMetadata } = require('shoebox/meta')
console.log(JSON.stringify({ time: formatKronosTime(eventIdTime(newEventId(17000000000000001n))), flat: flattenMetadata({ 'a-b': { c: 0 } }) }))
`)
  const { stdout, stderr } = await run(process.execPath, [path.join(dir, 'job.cjs')], { cwd: dir })
  t.equal(stderr, '', 'nothing on stderr')
  const out = JSON.parse(stdout) as { time: string, flat: Record<string, unknown> }
  t.equal(out.time, '17000000000000001', 'an id made in CommonJS carries its time exactly')
  t.same(Object.keys(out.flat), ['a_b:c'])
})

/**
 * A TypeScript project compiling to CommonJS with `"module": "commonjs"`
 * resolves with node10 rules, which ignore `exports`: the subpaths' types are
 * found only through `typesVersions`. The package's own package.json is put
 * in a temporary node_modules/shoebox with empty declaration files where it
 * points, and TypeScript's resolver must find each entry's file under both
 * rules (node16 reads `exports`).
 */
t.test('a TypeScript CommonJS consumer (module commonjs, node10 resolution) finds the types of every entry', async (t) => {
  const dir = tempDir(t)
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { types?: string }> }
  const home = path.join(dir, 'node_modules/shoebox')
  fs.mkdirSync(home, { recursive: true })
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(home, 'package.json'))
  const wanted = new Map<string, string>()
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string' || target.types === undefined) continue
    const file = path.join(home, target.types)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, 'export {}\n')
    wanted.set(entry === '.' ? 'shoebox' : 'shoebox/' + entry.slice(2), file)
  }
  t.same([...wanted.keys()], ['shoebox', 'shoebox/events', 'shoebox/meta'])
  // The consumer's own package.json: otherwise the nearest is this repository's, named shoebox, and node16 resolves the name to itself.
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"job"}\n')
  const from = path.join(dir, 'job.ts')
  const rules: Array<[string, ts.CompilerOptions]> = [
    ['node10', { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 }],
    ['node16', { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 }]
  ]
  for (const [rule, options] of rules) {
    for (const [name, file] of wanted) {
      const { resolvedModule } = ts.resolveModuleName(name, from, options, ts.sys)
      t.equal(resolvedModule?.resolvedFileName, file, `${rule}: ${name}`)
    }
  }
})
