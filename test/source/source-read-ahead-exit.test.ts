/**
 * A read of S3 objects stopped early leaves no GET behind: archiveSource
 * starts the next objects' GETs ahead of their read (read-ahead.ts), and
 * destroying the source dropped those streams but not their requests, so a
 * process whose read had ended waited for every answer (here held by the
 * proxy until the test ends) before it could exit. Run as a process: its
 * exit is the test.
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

/**
 * A GET of any object but the first is held until the test ends (the proxy's close): a process that waited
 * for those answers would never exit, and is killed after CHILD_MS. (The test used to allow 5 s from stop to
 * exit against GETs held 20 s: a timing assertion, where now the exit itself is the event.)
 */
const HELD_MS = 600_000
const CHILD_MS = 90_000

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
    const { error, stdout } = await new Promise<{ error: Error | null, stdout: string }>((resolve) => {
      execFile(process.execPath, [child], { timeout: CHILD_MS }, (error, stdout) => { resolve({ error, stdout }) })
    })
    t.equal(error, null, 'the process exited by itself while the GETs started ahead were still held')
    const stopped = Number(/stopped after 1 at (\d+)/.exec(stdout)?.[1])
    const exited = Number(/exit at (\d+)/.exec(stdout)?.[1])
    t.ok(Number.isFinite(stopped) && Number.isFinite(exited), stdout)
    t.ok(proxy.log.some((r) => r.op === 'GetObject' && r.url.includes('001.shoebox')), 'a GET was started ahead')
    t.comment(`exited ${exited - stopped} ms after it stopped (${Date.now() - started} ms in all)`)
  })
}
