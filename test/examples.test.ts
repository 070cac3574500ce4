/**
 * Every example in the README is a file under examples/ that runs here, as a
 * user would run it: `import ... from 'shoebox'` resolves to a package built
 * from the current sources, the shell example finds `shoebox` on its PATH,
 * and S3 means a real S3-protocol server on loopback. Each README code block
 * names its file on its first line and must appear in that file verbatim, so
 * the README cannot drift from what is tested.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import t, { type Test } from 'tap'
import { cliEnv } from './fixtures-s3/cli-build.js'
import { cli } from './cli-run.js'
import { decodeRecords } from './helpers.js'
import { startS3, type TestS3 } from './s3-server.js'
import { ROOT, transpileTree } from './transpile.js'

const run = promisify(execFile)
const EXAMPLES = path.join(ROOT, 'examples')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-examples-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

// The package as a user gets it, from the current sources: 'shoebox' names it, its bin is on PATH.
const pkg = path.join(tmp, 'package')
const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
const manifest = { name: 'shoebox', version, exports: { '.': './lib/index.js', './events': './lib/events/index.js', './meta': './lib/meta/index.js' } }
for (const entry of ['lib/index.ts', 'lib/events/index.ts', 'lib/meta/index.ts']) transpileTree(path.join(ROOT, entry), pkg, manifest)
const binJs = transpileTree(path.join(ROOT, 'lib/cli/bin.ts'), pkg, manifest)
fs.mkdirSync(path.join(pkg, 'bin'))
fs.writeFileSync(path.join(pkg, 'bin', 'shoebox'), `#!/bin/sh\nexec "${process.execPath}" "${binJs}" "$@"\n`, { mode: 0o755 })
fs.mkdirSync(path.join(pkg, 'examples'))

/** A fresh S3-protocol server with the examples' bucket, for one test. */
async function s3For (t: Test): Promise<TestS3> {
  const s3 = await startS3({ bucket: 'my-bucket' })
  t.teardown(async () => { await s3.stop() })
  return s3
}

interface Ran { stdout: string, stderr: string, cwd: string }

/** Run examples/NAME in a fresh working directory, with the package beside it. */
async function runExample (name: string, options: { args?: string[], env?: Record<string, string>, setup?: (cwd: string) => void } = {}): Promise<Ran> {
  const script = path.join(pkg, 'examples', name)
  fs.copyFileSync(path.join(EXAMPLES, name), script)
  const cwd = fs.mkdtempSync(path.join(tmp, `${name}-`))
  options.setup?.(cwd)
  // TMPDIR in the working directory: quickstart.js and events.js keep what they write under os.tmpdir() (for the
  // reader to look at), which left a directory in /tmp at every run.
  const env = cliEnv({ ...options.env, PATH: `${path.join(pkg, 'bin')}:${process.env.PATH ?? ''}`, TMPDIR: cwd })
  const command = name.endsWith('.sh') ? '/bin/sh' : process.execPath
  const { stdout, stderr } = await run(command, [script, ...(options.args ?? [])], { cwd, env, maxBuffer: 64 << 20 })
  return { stdout, stderr, cwd }
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '')

/** cli.sh's photos/: binary files in two directories (and a .txt that --include leaves out). */
const photos: Array<[string, number]> = [['a.jpg', 5000], [path.join('trip', 'b.jpg'), 70_000]]
const photo = (size: number): Buffer => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7919 + size) % 256))

const runners: Record<string, (t: Test) => Promise<void>> = {
  async 'quickstart.js' (t) {
    const { stdout } = await runExample('quickstart.js')
    t.match(stdout, /read {2}100000 records back across all files as one stream, 100000 in order and intact/)
  },

  async 'write-and-read.js' (t) {
    const { stdout, cwd } = await runExample('write-and-read.js')
    const out = lines(stdout)
    t.match(out[0], /^sealed .*events\/.*\.shoebox\.gz 3 records$/)
    t.same(out.slice(1), [1, 2, 3].map((id) => `{ event: 'order.paid' } { id: ${id}, amount: ${id * 10} }`))
    t.equal(fs.readdirSync(path.join(cwd, 'events')).filter((n) => !n.startsWith('.')).length, 1, 'one sealed file')
  },

  async 'ship-to-s3.js' (t) {
    const s3 = await s3For(t)
    const { stdout, cwd } = await runExample('ship-to-s3.js', { env: s3.env })
    const out = lines(stdout)
    t.match(out[0], /^uploaded \S+\.shoebox\.gz \d+ bytes in \d+ ms$/)
    t.same(out.slice(1), ['order.paid 1', 'order.paid 2', 'order.paid 3'])
    const key = out[0].split(' ')[1]
    t.ok(s3.object(`events/${key}`), 'the object is in the bucket under the prefix')
    t.same(fs.readdirSync(path.join(cwd, 'events')).filter((n) => !n.startsWith('.')), [], 'deleteLocal removed the local file')
  },

  async 'one-archive.js' (t) {
    const { stdout } = await runExample('one-archive.js')
    t.same(lines(stdout), ['order.paid { id: 1, amount: 42 }'])
  },

  async 'etl-ndjson.js' (t) {
    const body = Array.from({ length: 500 }, (_, i) => JSON.stringify({ event_type: i % 2 === 0 ? 'call' : 'mail', i, note: 'héllo' })).join('\n') + '\n'
    const server = http.createServer((req, res) => {
      if (req.url !== '/crm/events.ndjson') {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { server.close() })
    const { port } = server.address() as { port: number }
    const { cwd } = await runExample('etl-ndjson.js', { args: [`http://127.0.0.1:${port}/crm/events.ndjson`] })
    const records = await decodeRecords(zlib.gunzipSync(fs.readFileSync(path.join(cwd, 'crm.shoebox.gz'))))
    t.equal(records.length, 500)
    t.same(records.map((r) => r.metadata), Array.from({ length: 500 }, (_, i) => ({ source: 'crm', type: i % 2 === 0 ? 'call' : 'mail' })))
    t.equal(records.map((r) => r.payload.toString('utf8') + '\n').join(''), body, 'each line is its payload, byte for byte')
    await t.rejects(runExample('etl-ndjson.js', { args: [`http://127.0.0.1:${port}/missing`] }), /HTTP 404/, 'a failed request fails the job')
  },

  async 'sealed-callbacks.js' (t) {
    const { cwd, stdout } = await runExample('sealed-callbacks.js')
    const names = fs.readdirSync(path.join(cwd, 'events')).filter((n) => !n.startsWith('.')).sort()
    t.equal(names.length, 2, 'two files (a roll every 2 records)')
    t.ok(names.every((n) => n.endsWith('.shoebox.done')), 'each renamed by the sealed listener')
    t.same(lines(stdout), names, 'renamed already when the pipeline resolved (the sink awaits its listeners)')
  },

  async 'events.js' (t) {
    const { stdout } = await runExample('events.js')
    const base = BigInt(Date.UTC(2026, 11, 3, 12, 0, 0)) * 10000n
    t.same(lines(stdout), ['/', '/pricing', '/docs'].map((page, i) => `${base + BigInt(i) * 10000000n}n ${page}`),
      'shipped, stored and read back in time order, @time exact')
  },

  async 'metadir.js' (t) {
    const { stdout, cwd } = await runExample('metadir.js')
    t.same(lines(stdout), ['importing b2 Supply contract', '1 imported'])
    const db = fs.readdirSync(path.join(cwd, 'archive', '_mmmeta', 'db'))
    t.equal(db.filter((n) => n.endsWith('.append')).length, 1, 'one diff file in the meta db')
    t.ok(fs.existsSync(path.join(cwd, 'archive', '_mmmeta', 'state.db')), 'the state db')
  },

  async 'cli.sh' (t) {
    const ndjson = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i, text: `line ${i}` })).join('\n') + '\n'
    const s3 = await s3For(t)
    const { stdout, cwd } = await runExample('cli.sh', {
      env: s3.env,
      setup: (cwd) => {
        fs.writeFileSync(path.join(cwd, 'events.ndjson'), ndjson)
        fs.mkdirSync(path.join(cwd, 'photos', 'trip'), { recursive: true })
        for (const [name, size] of photos) fs.writeFileSync(path.join(cwd, 'photos', name), photo(size))
        fs.writeFileSync(path.join(cwd, 'photos', 'notes.txt'), 'not a photo')
      }
    })
    t.match(stdout, /events\.shoebox: OK: 1000 records/, 'verify')
    t.equal(fs.readFileSync(path.join(cwd, 'events-again.ndjson'), 'utf8'), ndjson, 'decode --payload-only gives the input back')
    t.match(stdout, /^1 file, 1000 records, /m, 'ls')
    t.match(stdout, /"payload":\{"i":999,"text":"line 999"\},"position":\{"file":"\S+","offset":\d+,"member":\{"offset":\d+,"skip":\d+\}\}/, 'the last record with its position')
    const copied = fs.readdirSync(path.join(cwd, 'events-zstd')).filter((n) => !n.startsWith('.'))
    t.same(copied.map((n) => n.endsWith('.shoebox.zst')), [true], 'read --exact | write --records --zstd: one zstd file')
    const again = await cli(['decode', path.join(cwd, 'events-zstd', copied[0])])
    t.equal(again.stdout.toString(), ndjson.split('\n').slice(0, -1).map((line) => `{"metadata":{},"payload":${line}}\n`).join(''), 'the same 1000 records, each whole')
    t.match(stdout, /^\{"i":0,"text":"line 0"\}\n\{"i":1,"text":"line 1"\}$/m, 'read back from S3')
    const keys = s3.keys()
    t.equal(keys.filter((k) => k.startsWith('events/')).length, 2, 'both sealed files uploaded')
    t.ok(keys.includes('archive/events.shoebox'), 'upload')
    t.ok(keys.some((k) => /^photos\/photos-.*\.shoebox\.gz$/.test(k)), 'pack: the photos packed into the bucket')
    const restored = (fs.readdirSync(path.join(cwd, 'restored'), { recursive: true }) as string[])
      .filter((name) => fs.statSync(path.join(cwd, 'restored', name)).isFile()).sort()
    t.same(restored, photos.map(([name]) => name).sort(), 'unpack: the .jpg files back, notes.txt never packed')
    for (const [name, size] of photos) t.same(fs.readFileSync(path.join(cwd, 'restored', name)), photo(size), `${name} byte for byte`)
  }
}

t.test('every file in examples/ is run here', async (t) => {
  t.same(fs.readdirSync(EXAMPLES).sort(), Object.keys(runners).sort())
})

t.test('every README code block is in the example it names, verbatim', async (t) => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const named = new Set<string>()
  for (const m of readme.matchAll(/```(js|sh)\n([\s\S]*?)```/g)) {
    const block = m[2]
    const name = /^(?:\/\/|#) examples\/(\S+)\n/.exec(block)?.[1]
    if (name === undefined) continue
    named.add(name)
    t.ok(fs.readFileSync(path.join(EXAMPLES, name), 'utf8').includes(block), `README block of examples/${name} is in the file`)
  }
  const uses = ['write-and-read.js', 'ship-to-s3.js', 'one-archive.js', 'cli.sh', 'etl-ndjson.js', 'sealed-callbacks.js', 'events.js', 'metadir.js']
  t.same([...named].sort(), uses.sort(), 'the README shows each use from its file')
  const unnamed = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].filter((m) => !m[1].startsWith('// examples/'))
  t.same(unnamed.map((m) => m[1].split('\n')[0]), [], 'no JavaScript block in the README without its runnable file')
  // A shell block is run too, unless it only installs or runs the package's own scripts.
  const unnamedShell = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1])
    .filter((block) => !block.startsWith('# examples/') && !block.split('\n').every((l) => l === '' || /^npm /.test(l)))
  t.same(unnamedShell.map((block) => block.split('\n')[0]), [], 'no shell example in the README without its runnable file')
})

for (const [name, runner] of Object.entries(runners)) {
  t.test(`examples/${name} runs as written`, runner)
}
