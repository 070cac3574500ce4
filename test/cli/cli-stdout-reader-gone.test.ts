/**
 * A reader of stdout that goes away (`| head -1`, a log reader that dies)
 * while a command whose stdout reports its work runs. bin.ts ended every
 * command at once with exit 0 on that EPIPE: `upload a b c | head -1`
 * uploaded one file and said success, `meta push | head -1` left its
 * multipart upload open, `serve | true` stopped serving at once, exit 0.
 * The work goes on (its remaining lines unwritten) and the exit is the
 * work's. A command whose stdout is its data (read, decode) still stops at
 * once, exit 0 (test/cli/cli-main.test.ts).
 */
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import t from 'tap'
import { encodeRecords } from '../../lib/format/encoder.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../temp-dir.js'

const dir = tempDir(t, 'shoebox-reader-gone-')

interface Started {
  child: ReturnType<typeof spawn>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>
}

/** Start the CLI with stdout a pipe whose reader is gone before the child writes to it. */
function startReaderGone (args: string[]): Started {
  const child = spawn(process.execPath, [cliBinary(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
  child.stdout?.destroy()
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>((resolve) => {
    child.on('close', (code, signal) => { resolve({ code, signal, stderr }) })
  })
  return { child, exited }
}

t.test('upload FILE... with no reader of stdout: every file is uploaded, exit 0', async (t) => {
  const files = Array.from({ length: 8 }, (_, i) => path.join(dir, `up-${i}.bin`))
  for (const f of files) fs.writeFileSync(f, crypto.randomBytes(256 * 1024))
  const dest = path.join(dir, 'up-dest')
  const r = await startReaderGone(['upload', ...files, '--to', dest, '--concurrency', '1']).exited
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /^shoebox upload: uploaded 8 objects, [^\n]*\n$/, 'the transfer line, on stderr as always')
  t.same(fs.readdirSync(dest).sort(), files.map((f) => path.basename(f)).sort(), 'every file, and no temporary file')
  for (const f of files) t.ok(fs.readFileSync(path.join(dest, path.basename(f))).equals(fs.readFileSync(f)), path.basename(f))
})

t.test('meta push with no reader of stdout: every file is copied, the pointers last, exit 0', async (t) => {
  const base = path.join(dir, 'md')
  fs.mkdirSync(path.join(base, '_mmmeta', 'db'), { recursive: true })
  const names = Array.from({ length: 6 }, (_, i) => `2026010${i + 1}T000000.append`)
  for (const name of names) fs.writeFileSync(path.join(base, '_mmmeta', 'db', name), crypto.randomBytes(64 * 1024))
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), 'metadata:\n  unique: id\n')
  const dest = path.join(dir, 'md-dest')
  const r = await startReaderGone(['meta', 'push', dest, '--metadir', base]).exited
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  t.same(fs.readdirSync(path.join(dest, '_mmmeta', 'db')).sort(), names, 'every history file')
  t.ok(fs.existsSync(path.join(dest, '_mmmeta', 'config.yml')), 'and config.yml')
})

/** A port free a moment ago (serve's URL goes to the stdout nobody reads). */
async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

t.test('serve with no reader of stdout: it serves until SIGTERM, then stops as always, exit 0', async (t) => {
  const port = await freePort()
  const serve = startReaderGone(['serve', '--data', path.join(dir, 'events'), '--port', String(port)])
  t.teardown(() => { serve.child.kill('SIGKILL') })
  let gone = false
  void serve.exited.then(() => { gone = true })
  let answered: number | undefined
  while (!gone && answered === undefined) {
    answered = await fetch(`http://127.0.0.1:${port}/1.0/index`).then((res) => res.status, () => undefined)
    if (answered === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(answered, 200, 'it answered a request after its stdout went')
  serve.child.kill('SIGTERM')
  const r = await serve.exited
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, 'shoebox serve: stopped\n')
})

t.test('decode, whose stdout is its data, with no reader of stdout: it stops quietly, exit 0', async (t) => {
  const archive = path.join(dir, 'a.shoebox')
  fs.writeFileSync(archive, encodeRecords(Array.from({ length: 20_000 }, (_, i) => ({ metadata: {}, payload: `{"n":${i}}` }))))
  const r = await startReaderGone(['decode', archive]).exited
  t.same([r.code, r.signal, r.stderr], [0, null, ''])
})
