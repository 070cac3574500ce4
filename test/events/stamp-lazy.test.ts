/**
 * split2 and pumpify are loaded when the first stampNdjson() is made, not
 * when shoebox/events is imported: a program that never stamps NDJSON does not pay
 * for them. A fresh process imports the package transpiled from the current
 * sources and looks at what require() has loaded, before and after.
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

t.test('importing shoebox loads neither split2 nor pumpify; stampNdjson() does, and works', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-lazy-split2-'))
  t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
  const index = transpileTree(path.join(ROOT, 'lib', 'events', 'index.ts'), path.join(tmp, 'pkg'))
  const script = path.join(tmp, 'stamp.mjs')
  fs.writeFileSync(script, `import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const loaded = () => Object.keys(require.cache).filter((k) => /[\\\\/]node_modules[\\\\/](split2|pumpify)[\\\\/]/.test(k)).length
import(${JSON.stringify(pathToFileURL(index).href)}).then(({ stampNdjson }) => {
  const afterImport = loaded()
  const s = stampNdjson({ stream: 's' })
  const out = []
  s.on('data', (r) => out.push(r.event.replace(/"@id":"[^"]+",/, '')))
  s.on('end', () => console.log(JSON.stringify({ afterImport, afterStamp: loaded(), out })))
  s.end('{"@time":1,"a":2.0}\\r\\n')
}).catch((err) => { console.error(err); process.exitCode = 1 })
`)
  const { stdout, stderr } = await run(process.execPath, [script], { cwd: tmp })
  t.equal(stderr, '')
  const out = JSON.parse(stdout) as { afterImport: number, afterStamp: number, out: string[] }
  t.equal(out.afterImport, 0, 'no split2 or pumpify module loaded by the import')
  t.ok(out.afterStamp >= 2, 'both loaded by stampNdjson() (so the check can see them)')
  t.same(out.out, ['{"@time":1,"a":2.0}'])
})
