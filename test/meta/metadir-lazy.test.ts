/**
 * Importing shoebox/meta loads neither better-sqlite3 nor yaml: the metadir
 * loads them when one is opened. A fresh process imports the package
 * transpiled from the current sources with a resolve hook noting each
 * module resolved from those packages, before and after metadir().
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
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-lazy-sqlite-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const index = transpileTree(path.join(ROOT, 'lib', 'meta', 'index.ts'), path.join(tmp, 'pkg'))

const log = path.join(tmp, 'resolved.log')
const hook = path.join(tmp, 'hook.mjs')
fs.writeFileSync(hook, `import fs from 'node:fs'
export async function resolve (specifier, context, next) {
  const r = await next(specifier, context)
  if (/\\/node_modules\\/(better-sqlite3|yaml)\\//.test(r.url)) fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n')
  return r
}
`)
const register = path.join(tmp, 'register.mjs')
fs.writeFileSync(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hook).href)})\n`)

t.test('importing shoebox loads no SQLite; opening a metadir does', async (t) => {
  const base = path.join(tmp, 'base')
  fs.mkdirSync(path.join(base, '_mmmeta'), { recursive: true })
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), 'metadata:\n  unique: content_hash\n')
  const script = path.join(tmp, 'open.mjs')
  fs.writeFileSync(script, `import fs from 'node:fs'
const resolved = () => fs.existsSync(${JSON.stringify(log)}) ? fs.readFileSync(${JSON.stringify(log)}, 'utf8').split('\\n').filter(Boolean) : []
import(${JSON.stringify(pathToFileURL(index).href)}).then(async ({ metadir }) => {
  const afterImport = resolved().length
  const md = await metadir(${JSON.stringify(base)})
  const files = md.files.count()
  md.close()
  const after = resolved()
  console.log(JSON.stringify({ afterImport, sqlite: after.some((u) => u.includes('better-sqlite3')), yaml: after.some((u) => u.includes('/yaml/')), files }))
})
`)
  const { stdout } = await run(process.execPath, ['--import', pathToFileURL(register).href, script], { cwd: tmp })
  t.same(JSON.parse(stdout), { afterImport: 0, sqlite: true, yaml: true, files: 0 })
})
