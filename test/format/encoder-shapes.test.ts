/**
 * The encoder's per-record path stays optimised after every encoder is
 * garbage (shapeKeeper in lib/format/encoder.ts): without the encoder kept for its maps, a
 * collection freed the maps and threw the optimised code away, and the next
 * encoder ran cold. Checked in a child process started with V8's test
 * functions (--allow-natives-syntax) to read the optimisation status.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { ROOT, transpileTree } from '../transpile.js'

const run = promisify(execFile)

/** V8's optimisation status bit "optimised" (%GetOptimizationStatus). */
const OPTIMIZED = 1 << 4

// Encodes 50,000 records three times with three encoders (enough for V8 to optimise
// write() as it would in use), drops them, collects, and reports write()'s status before and after.
const CHILD = `
const { ArchiveEncoder } = await import(process.argv[2])
const status = new Function('f', 'return %GetOptimizationStatus(f)')
const records = Array.from({ length: 50000 }, (_, i) => ({ metadata: { event: 'page.view', request_id: 'req_' + i }, payload: Buffer.alloc(100 + (i % 50), i) }))
function encodeAll () {
  const encoder = new ArchiveEncoder()
  for (const record of records) encoder.write(record)
  return encoder.take().length
}
for (let i = 0; i < 3; i++) encodeAll()
const write = ArchiveEncoder.prototype.write
const before = status(write)
for (let i = 0; i < 6; i++) globalThis.gc()
console.log(JSON.stringify({ before, after: status(write) }))
`

const dir = t.testdir({ 'child.mjs': CHILD })
const encoder = transpileTree(path.join(ROOT, 'lib', 'format', 'encoder.ts'), dir)
// The native part where it is built (lib/native.ts looks for it one level above lib/).
if (fs.existsSync(path.join(ROOT, 'build'))) fs.symlinkSync(path.join(ROOT, 'build'), path.join(dir, 'build'), 'dir')

for (const native of ['1', '0']) {
  t.test(`write() is still optimised after the encoders are collected (SHOEBOX_NATIVE=${native})`, async (t) => {
    const { stdout } = await run(process.execPath, ['--allow-natives-syntax', '--expose-gc', path.join(dir, 'child.mjs'), pathToFileURL(encoder).href], {
      env: { ...process.env, SHOEBOX_NATIVE: native }
    })
    const { before, after } = JSON.parse(stdout) as { before: number, after: number }
    t.ok(before & OPTIMIZED, `optimised while in use (status ${before.toString(2)})`)
    t.ok(after & OPTIMIZED, `still optimised after collection (status ${after.toString(2)})`)
  })
}
