/**
 * SIGTERM of a collector (`serve --store`) while the store is slow: its stop
 * publishes the last runs, which the store may hold long, and it said
 * nothing meanwhile (a silent process that ignores a SIGTERM, as far as the
 * operator could tell). It says at once what it waits for and what a second
 * signal leaves, then stops as always once the publish is done.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { seen, startFaultProxy } from '../fault-proxy.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { startS3 } from '../s3-server.js'
import { tempDir } from '../temp-dir.js'

const dir = tempDir(t, 'shoebox-serve-stop-slow-store-')

t.test('SIGTERM of a collector while its store is slow: one line says it publishes the last runs, then it stops, exit 0, the events published', async (t) => {
  const s3 = await startS3()
  const proxy = await startFaultProxy(s3.endpoint, [])
  t.teardown(async () => {
    await proxy.close()
    await s3.stop()
  })
  const data = path.join(dir, 'data')
  const url = `s3://${s3.bucket}/ev`
  const child = spawn(process.execPath, [cliBinary(), 'serve', '--data', data, '--port', '0', '--mode', 'collector', '--store', url, '--flush-interval', '1h'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...s3.env, SHOEBOX_S3_ENDPOINT: proxy.endpoint }
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { resolve(code) }))
  const listening = await new Promise<string>((resolve) => {
    let out = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      const m = /listening on (\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
  })
  const res = await fetch(`${listening}/1.0/events/put`, { method: 'POST', body: JSON.stringify({ events: { s1: [{ a: 1 }, { a: 2 }] } }) })
  t.equal(res.status, 200, await res.text())
  // The stop's publish is held at the proxy until the line has been looked for.
  proxy.rules = [{ match: (r) => r.op === 'PutObject' || r.op === 'UploadPart', fault: { kind: 'latency', ms: 3000 } }]
  const publishing = seen(proxy, (r) => r.op === 'PutObject' || r.op === 'UploadPart')
  child.kill('SIGTERM')
  await publishing
  // (Its stderr and its request come on two pipes: the line, written first, may arrive a turn later.)
  let gone = false
  void exited.then(() => { gone = true })
  while (!stderr.includes('\n') && !gone) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(stderr, `shoebox serve: SIGTERM: stopping; publishing the last runs to ${url} (a second SIGTERM stops at once: the events not published stay in ${fs.realpathSync(data)} for the next start)\n`, 'said while the publish is held')
  t.equal(await exited, 0, stderr)
  t.match(stderr, /\nshoebox serve: stopped\n$/)
  t.ok(s3.keys().some((k) => k.startsWith('ev/index/')), 'the last runs published')
})
