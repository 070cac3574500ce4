/**
 * A read of S3 objects stopped early leaves no GET behind: archiveSource
 * starts the next objects' GETs ahead of their read (read-ahead.ts), and
 * destroying the source dropped those streams but not their requests, so a
 * process whose read had ended waited for every answer (here held 20 s by
 * the proxy) before it could exit. Run as a process: its exit is the test.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'
import { ROOT, transpileTree } from '../transpile.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-read-ahead-exit-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const index = transpileTree(path.join(ROOT, 'lib', 'index.ts'), path.join(tmp, 'pkg'))

/** How long a GET of any object but the first is held, and the most the process may take to exit once stopped. */
const HELD_MS = 20_000
const PROMPT_MS = 5_000

for (const how of ['destroy', 'stop'] as const) {
  t.test(`${how}() after the first object: the GETs started ahead are cut, and the process exits at once`, async (t) => {
    const s3 = await startS3()
    t.teardown(() => s3.stop())
    for (let i = 0; i < 6; i++) await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `a/00${i}.shoebox`, Body: encodeRecords([{ payload: String(i) }]) }))
    const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'GetObject' && !r.url.includes('000.shoebox'), fault: { kind: 'latency', ms: HELD_MS } }])
    t.teardown(() => proxy.close())
    const child = path.join(tmp, `${how}.mjs`)
    fs.writeFileSync(child, `import { archiveSource } from ${JSON.stringify(pathToFileURL(index).href)}
const source = archiveSource('s3://${s3.bucket}/a/*.shoebox', { storeOptions: { endpoint: ${JSON.stringify(proxy.endpoint)}, credentials: ${JSON.stringify(s3.credentials)}, region: ${JSON.stringify(s3.region)} } })
let records = 0
source.on('data', () => { records++ })
source.on('error', (err) => { console.log('error ' + err.message) })
// Once the first object is read, the next ones' GETs are under way (held by the proxy).
source.once('fileEnd', () => { source.${how}(); console.log('stopped after ' + records + ' at ' + Date.now()) })
process.on('exit', () => { console.log('exit at ' + Date.now()) })
`)
    const started = Date.now()
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      execFile(process.execPath, [child], { timeout: HELD_MS + 10_000 }, (err, stdout) => { if (err !== null) reject(err); else resolve({ stdout }) })
    })
    const stopped = Number(/stopped after 1 at (\d+)/.exec(stdout)?.[1])
    const exited = Number(/exit at (\d+)/.exec(stdout)?.[1])
    t.ok(Number.isFinite(stopped) && Number.isFinite(exited), stdout)
    t.ok(proxy.log.some((r) => r.op === 'GetObject' && r.url.includes('001.shoebox')), 'a GET was started ahead')
    t.ok(exited - stopped < PROMPT_MS, `exited ${exited - stopped} ms after it stopped (${Date.now() - started} ms in all), not after the held GETs' ${HELD_MS} ms`)
  })
}
