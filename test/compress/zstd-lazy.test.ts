/**
 * zstd is optional and loads on first use (lib/compress/zstd-loader.ts):
 * importing the package must not load @mongodb-js/zstd; compressing with
 * zstd does, unless SHOEBOX_ZSTD=0 says there is none (then it fails with
 * SHOEBOX_UNSUPPORTED, and gzip still works). Real processes from the
 * transpiled sources; a module preloaded with --import writes, as the
 * process exits, which loaded CommonJS modules (the package is CommonJS)
 * have '@mongodb-js/zstd' in their path. (On a Node with zlib zstd the
 * package is not needed: there SHOEBOX_ZSTD=package makes the second case
 * load it, and its name says so.)
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import zlib from 'node:zlib'
import t from 'tap'
import { ROOT, transpileTree } from '../transpile.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-lazy-zstd-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const index = transpileTree(path.join(ROOT, 'lib', 'index.ts'), path.join(tmp, 'lib'))
const nodeHasZstd = typeof (zlib as unknown as { zstdCompress?: unknown }).zstdCompress === 'function'

const REPORT_HOOK = path.join(tmp, 'report-zstd.mjs')
fs.writeFileSync(REPORT_HOOK, `import fs from 'node:fs'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
process.on('exit', () => {
  const loaded = Object.keys(require.cache).filter((file) => file.includes('@mongodb-js'))
  fs.writeFileSync(process.env.ZSTD_REPORT, JSON.stringify(loaded))
})
`)

let runs = 0
async function run (body: string, env: Record<string, string> = {}): Promise<{ code: number | null, stderr: string, loaded: string[] }> {
  const file = path.join(tmp, `script-${runs}.mjs`)
  fs.writeFileSync(file, `import(${JSON.stringify(pathToFileURL(index).href)}).then(async (lib) => {\n${body}\n}).catch((err) => { console.error(err.code + ' ' + err.message); process.exitCode = 1 })\n`)
  const report = path.join(tmp, `report-${runs++}.json`)
  const child = spawn(process.execPath, ['--import', pathToFileURL(REPORT_HOOK).href, file], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env, ZSTD_REPORT: report }
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  return { code, stderr, loaded: JSON.parse(fs.readFileSync(report, 'utf8')) as string[] }
}

const COMPRESS = `
  const out = []
  const stage = lib.zstd({ level: 3 })
  stage.on('data', (c) => out.push(c))
  await new Promise((resolve, reject) => { stage.on('end', resolve); stage.on('error', reject); stage.end(Buffer.from('hello')) })
  if (Buffer.concat(out).readUInt32LE(0) !== 0xfd2fb528) throw new Error('no zstd frame')`

t.test('importing the package loads no zstd module', async (t) => {
  const r = await run("if (typeof lib.zstd !== 'function') throw new Error('no zstd')", { SHOEBOX_ZSTD: 'auto' })
  t.equal(r.code, 0, r.stderr)
  t.same(r.loaded, [])
})

t.test(`compressing loads the package${nodeHasZstd ? ' (here node:zlib has zstd: SHOEBOX_ZSTD=package forces it)' : ''}`, async (t) => {
  const r = await run(COMPRESS, { SHOEBOX_ZSTD: nodeHasZstd ? 'package' : 'auto' })
  t.equal(r.code, 0, r.stderr)
  t.ok(r.loaded.some((f) => f.includes('@mongodb-js/zstd')), r.loaded.join(' '))
})

t.test('SHOEBOX_ZSTD=0: zstd fails with SHOEBOX_UNSUPPORTED and loads nothing; gzip works', async (t) => {
  const r = await run(COMPRESS, { SHOEBOX_ZSTD: '0' })
  t.equal(r.code, 1)
  t.match(r.stderr, /^SHOEBOX_UNSUPPORTED .*zstd is not available/)
  t.same(r.loaded, [])
  const gz = await run(`
    const out = []
    const stage = lib.gzip()
    stage.on('data', (c) => out.push(c))
    await new Promise((resolve) => { stage.on('end', resolve); stage.end(Buffer.from('hello')) })
    if (Buffer.concat(out)[0] !== 0x1f) throw new Error('no gzip')`, { SHOEBOX_ZSTD: '0' })
  t.equal(gz.code, 0, gz.stderr)
})
