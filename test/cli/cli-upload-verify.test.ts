/**
 * `shoebox upload` checks each stored size against the file: a HEAD that
 * reports another size (the fault proxy rewrites its Content-Length) is one
 * error line and exit 1, and --delete-local keeps the file. A real process
 * from the transpiled sources, against the in-repo S3 server.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cliBinary, runCli } from '../fixtures-s3/cli-build.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-upload-verify-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const bin = cliBinary()

t.test('a stored size unlike the file\'s fails the command and keeps the file', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'HeadObject', fault: { kind: 'set-response-header', name: 'content-length', value: '3' } }
  ])
  t.teardown(() => proxy.close())
  const file = path.join(tmp, 'données.bin')
  fs.writeFileSync(file, Buffer.alloc(10_000, 7))
  const url = `s3://${s3.bucket}/up`

  const bad = await runCli(bin, ['upload', file, '--to', url, '--endpoint', proxy.endpoint, '--delete-local'], { env: s3.env })
  t.equal(bad.code, 1)
  t.equal(bad.stdout.toString(), '', 'no line claims the file uploaded')
  t.equal(bad.stderr, `shoebox upload: ${url}: upload données.bin: stored 3 bytes of 10000; the object is left as stored, the file is kept\n`)
  t.ok(fs.existsSync(file), '--delete-local kept the file that failed the check')

  proxy.rules.length = 0
  const good = await runCli(bin, ['upload', file, '--to', url, '--endpoint', proxy.endpoint, '--delete-local'], { env: s3.env })
  t.equal(good.code, 0, good.stderr)
  t.match(good.stdout.toString(), `${file}\t${url}/données.bin\t10000 bytes\t`)
  t.notOk(fs.existsSync(file), 'deleted once verified')
  t.equal(s3.object('up/données.bin')?.length, 10_000)
})
