/**
 * pack's walk (lib/pack/pack-source.ts) imports minimatch when a walk
 * starts, not when the module is imported: a program that never packs does
 * not pay for it. A fresh process imports the module transpiled from the
 * current sources with a resolve hook that notes each module resolved from
 * minimatch's package, before and after a walk with include globs.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { ROOT, transpileTree } from '../transpile.js'

const run = promisify(execFile)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-lazy-minimatch-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const packSource = transpileTree(path.join(ROOT, 'lib', 'pack', 'pack-source.ts'), path.join(tmp, 'pkg'))

const tree = path.join(tmp, 'tree')
fs.mkdirSync(path.join(tree, 'sub'), { recursive: true })
fs.writeFileSync(path.join(tree, 'a.txt'), 'a')
fs.writeFileSync(path.join(tree, 'b.log'), 'b')
fs.writeFileSync(path.join(tree, 'sub', 'c.txt'), 'c')

const log = path.join(tmp, 'resolved.log')
const hook = path.join(tmp, 'hook.mjs')
// The hook runs on the loader thread; it appends synchronously, before the
// import it resolves can finish, so the main thread can read the file at once.
fs.writeFileSync(hook, `import fs from 'node:fs'
export async function resolve (specifier, context, next) {
  const r = await next(specifier, context)
  if (r.url.includes('/node_modules/minimatch/')) fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n')
  return r
}
`)
const register = path.join(tmp, 'register.mjs')
fs.writeFileSync(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hook).href)})\n`)

t.test('importing pack-source loads no minimatch; a walk does, and its globs still match', async (t) => {
  const script = path.join(tmp, 'walk.mjs')
  fs.writeFileSync(script, `import fs from 'node:fs'
const resolved = () => fs.existsSync(${JSON.stringify(log)}) ? fs.readFileSync(${JSON.stringify(log)}, 'utf8').split('\\n').filter(Boolean).length : 0
import(${JSON.stringify(pathToFileURL(packSource).href)}).then(async ({ packFiles }) => {
  const afterImport = resolved()
  const paths = []
  for await (const record of packFiles(${JSON.stringify(tree)}, { include: '**/*.txt' })) paths.push(record.metadata[0][1])
  console.log(JSON.stringify({ afterImport, afterWalk: resolved(), paths }))
}).catch((err) => { console.error(err); process.exitCode = 1 })
`)
  const { stdout, stderr } = await run(process.execPath, ['--import', pathToFileURL(register).href, script], { cwd: tmp })
  t.equal(stderr, '')
  const out = JSON.parse(stdout) as { afterImport: number, afterWalk: number, paths: string[] }
  t.equal(out.afterImport, 0, 'no minimatch module resolved by the import')
  t.ok(out.afterWalk > 0, 'the walk resolved minimatch (so the check can see it)')
  t.same(out.paths, ['a.txt', 'sub/c.txt'])
})

t.test('importing the whole package loads no minimatch; listing a glob does', async (t) => {
  const index = transpileTree(path.join(ROOT, 'lib', 'index.ts'), path.join(tmp, 'index-pkg'))
  fs.rmSync(log, { force: true })
  const script = path.join(tmp, 'list.mjs')
  fs.writeFileSync(script, `import fs from 'node:fs'
const resolved = () => fs.existsSync(${JSON.stringify(log)}) ? fs.readFileSync(${JSON.stringify(log)}, 'utf8').split('\\n').filter(Boolean).length : 0
import(${JSON.stringify(pathToFileURL(index).href)}).then(async ({ archiveSource }) => {
  const afterImport = resolved()
  const records = await archiveSource(${JSON.stringify(path.join(tree, '*.shoebox'))}, { allowEmpty: true }).toArray()
  console.log(JSON.stringify({ afterImport, afterList: resolved(), records: records.length }))
}).catch((err) => { console.error(err); process.exitCode = 1 })
`)
  const { stdout, stderr } = await run(process.execPath, ['--import', pathToFileURL(register).href, script], { cwd: tmp })
  t.equal(stderr, '')
  const out = JSON.parse(stdout) as { afterImport: number, afterList: number, records: number }
  t.equal(out.afterImport, 0, 'no minimatch module resolved by importing the package')
  t.ok(out.afterList > 0, 'listing a glob resolved minimatch')
  t.equal(out.records, 0)
})
