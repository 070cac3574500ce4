/**
 * The AWS SDK loads only when an s3:// URL is used (lib/store/s3-client.ts):
 * importing the package and `shoebox --help` must not pay for it. Each case
 * is a real process from the transpiled sources; a module preloaded with
 * --import writes, as the process exits, which of its loaded CommonJS modules
 * (the SDK is CommonJS) have '@aws-sdk' in their path. The cases that do use
 * S3 prove that the check sees the SDK when it is there.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { ROOT, transpileTree } from '../transpile.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-lazy-sdk-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const bin = cliBinary()
const index = transpileTree(path.join(ROOT, 'lib', 'index.ts'), path.join(tmp, 'lib'))

const REPORT_HOOK = path.join(tmp, 'report-aws.mjs')
fs.writeFileSync(REPORT_HOOK, `import fs from 'node:fs'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
process.on('exit', () => {
  const loaded = Object.keys(require.cache).filter((file) => file.includes('@aws-sdk'))
  fs.writeFileSync(process.env.AWS_REPORT, JSON.stringify(loaded))
})
`)

/** An ES module that imports the transpiled package and then runs `body` (no top-level await). */
function script (name: string, body: string): string {
  const file = path.join(tmp, name)
  fs.writeFileSync(file, `import(${JSON.stringify(pathToFileURL(index).href)}).then(async (lib) => {\n${body}\n}).catch((err) => { console.error(err); process.exitCode = 1 })\n`)
  return file
}

let runs = 0
/** Run `node --import REPORT_HOOK ...args`; resolves with the exit code and the '@aws-sdk' modules it had loaded. */
async function loadedSdk (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stderr: string, aws: string[] }> {
  const report = path.join(tmp, `report-${runs++}.json`)
  const child = spawn(process.execPath, ['--import', pathToFileURL(REPORT_HOOK).href, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'], env: cliEnv({ ...env, AWS_REPORT: report })
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  return { code, stderr, aws: JSON.parse(fs.readFileSync(report, 'utf8')) as string[] }
}

let s3: TestS3
t.before(async () => { s3 = await startS3() })
t.teardown(async () => { await s3?.stop() })

t.test('importing the package loads no @aws-sdk module', async (t) => {
  const run = await loadedSdk([script('import-only.mjs', "if (typeof lib.openStore !== 'function') throw new Error('no openStore')")])
  t.equal(run.code, 0, run.stderr)
  t.same(run.aws, [])
})

t.test('openStore(s3://...) alone loads nothing; its first request loads the SDK', async (t) => {
  const opened = await loadedSdk([script('open-only.mjs', `
    const store = lib.openStore('s3://${s3.bucket}/lazy')
    if (typeof store.client !== 'function') throw new Error('not an S3 store')
    await store.close()`)], s3.env)
  t.equal(opened.code, 0, opened.stderr)
  t.same(opened.aws, [], 'opening (and closing) an S3 store sends nothing and loads nothing')

  const used = await loadedSdk([script('one-request.mjs', `
    const store = lib.openStore('s3://${s3.bucket}/lazy')
    const there = await store.exists('nothing-here')
    await store.close()
    if (there !== false) throw new Error('exists said ' + there)`)], s3.env)
  t.equal(used.code, 0, used.stderr)
  t.ok(used.aws.some((f) => f.includes('@aws-sdk/client-s3')), 'the SDK was loaded by the request (so the check can see it)')
})

t.test('an S3 writer returned at once writes once the SDK has loaded', async (t) => {
  const run = await loadedSdk([script('writer.mjs', `
    const store = lib.openStore('s3://${s3.bucket}/lazy')
    const writer = store.writer('written.bin')
    await new Promise((resolve, reject) => { writer.once('finish', resolve); writer.once('error', reject); writer.end(Buffer.from('héllo')) })
    const chunks = []
    for await (const chunk of store.get('written.bin')) chunks.push(chunk)
    await store.close()
    if (Buffer.concat(chunks).toString() !== 'héllo') throw new Error('read back ' + Buffer.concat(chunks).toString())`)], s3.env)
  t.equal(run.code, 0, run.stderr)
  t.ok(run.aws.length > 0)
  t.same(s3.object('lazy/written.bin')?.toString(), 'héllo')
})

t.test('shoebox --help and a local command load no @aws-sdk module; a command on s3:// does', async (t) => {
  const help = await loadedSdk([bin, '--help'])
  t.equal(help.code, 0, help.stderr)
  t.same(help.aws, [])

  const dir = path.join(tmp, 'empty-dir')
  fs.mkdirSync(dir)
  const file = path.join(dir, 'one.txt')
  fs.writeFileSync(file, 'one\n')
  const local = await loadedSdk([bin, 'upload', file, '--to', path.join(tmp, 'local-store')])
  t.equal(local.code, 0, local.stderr)
  t.same(local.aws, [], 'an upload into a directory loads no SDK')

  const remote = await loadedSdk([bin, 'upload', file, '--to', `s3://${s3.bucket}/cli`], s3.env)
  t.equal(remote.code, 0, remote.stderr)
  t.ok(remote.aws.some((f) => f.includes('@aws-sdk/client-s3')), 'an upload to s3:// loads the SDK')
  t.same(s3.object('cli/one.txt')?.toString(), 'one\n')
})
