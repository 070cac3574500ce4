/**
 * Importing shoebox/meta loads none of the metadir's dependencies (yaml,
 * split2): a program that never touches a metadir does not pay for them. A fresh process imports the package transpiled from the current
 * sources with a resolve hook noting each module resolved from those
 * packages, before and after using each.
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
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-lazy-meta-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const index = transpileTree(path.join(ROOT, 'lib', 'meta', 'index.ts'), path.join(tmp, 'pkg'))

const log = path.join(tmp, 'resolved.log')
const hook = path.join(tmp, 'hook.mjs')
fs.writeFileSync(hook, `import fs from 'node:fs'
export async function resolve (specifier, context, next) {
  const r = await next(specifier, context)
  const m = /\\/node_modules\\/(yaml|split2)\\//.exec(r.url)
  if (m !== null) fs.appendFileSync(${JSON.stringify(log)}, m[1] + '\\n')
  return r
}
`)
const register = path.join(tmp, 'register.mjs')
fs.writeFileSync(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hook).href)})\n`)
const base = path.join(tmp, 'metadir')
fs.mkdirSync(path.join(base, '_mmmeta'), { recursive: true })
fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), 'metadata:\n  unique: id\n')
fs.writeFileSync(path.join(tmp, 'a.json'), '[{"id": "x"}]')
fs.writeFileSync(path.join(tmp, 'a.ndjson'), '{"id": "y"}\n')

t.test('importing shoebox loads no yaml or split2; using them does', async (t) => {
  const script = path.join(tmp, 'use.mjs')
  fs.writeFileSync(script, `import fs from 'node:fs'
const loaded = () => [...new Set(fs.existsSync(${JSON.stringify(log)}) ? fs.readFileSync(${JSON.stringify(log)}, 'utf8').split('\\n').filter(Boolean) : [])].sort()
import(${JSON.stringify(pathToFileURL(index).href)}).then(async (lib) => {
  const afterImport = loaded()
  const config = await lib.loadMetaConfig(${JSON.stringify(base)})
  const ids = []
  for await (const o of lib.jsonArraySource(${JSON.stringify(path.join(tmp, 'a.json'))})) ids.push(o.id)
  for await (const o of lib.ndjsonFileSource(${JSON.stringify(path.join(tmp, 'a.ndjson'))})) ids.push(o.id)
  console.log(JSON.stringify({ afterImport, afterUse: loaded(), unique: config.unique, ids }))
}).catch((err) => { console.error(err); process.exitCode = 1 })
`)
  const { stdout, stderr } = await run(process.execPath, ['--import', pathToFileURL(register).href, script], { cwd: tmp })
  t.equal(stderr, '')
  const out = JSON.parse(stdout) as { afterImport: string[], afterUse: string[], unique: string, ids: string[] }
  t.same(out.afterImport, [], 'nothing resolved by the import')
  t.same(out.afterUse, ['split2', 'yaml'])
  t.same([out.unique, out.ids], ['id', ['x', 'y']])
})
