/**
 * A URL on the command line that names no store or server is the user's
 * mistake: every command says so as a usage error (one line, the hint, exit
 * 2), as the README's exit codes have it, before it reads, creates or sends
 * anything, and without echoing credentials. Store URLs: write, upload,
 * multipart, read, ls, pack, unpack, meta push/pull/index, meta generate --archives, serve --store (checked by
 * storeUrlArg(), lib/cli/store-url-arg.ts); server URLs: ship, events.
 * A malformed --endpoint is a usage error too, in every command that takes
 * it, and so is a malformed SHOEBOX_S3_ENDPOINT where an S3 store without
 * --endpoint is opened (never where none is). (A store that fails once asked, a missing bucket or an unreachable
 * endpoint, is a runtime failure, exit 1: here for a few commands, and
 * test/cli/cli-store.test.ts.)
 */
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cli } from '../cli-run.js'

const SECRET = 'SeCrEt-url-Qz7'
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-bad-url-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const file = path.join(tmp, 'f.txt')
fs.writeFileSync(file, 'x')
const src = path.join(tmp, 'src')
fs.mkdirSync(src)
fs.writeFileSync(path.join(src, 'a.txt'), 'a')
const metadir = path.join(tmp, 'meta')
fs.mkdirSync(metadir)
const created = (name: string): string => path.join(tmp, 'made', name)

/** Store URLs that name no store, and what the one line must say. */
const badStores: Array<[string, RegExp]> = [
  ['gs://bucket/logs', /unknown store URL scheme 'gs:\/\/' in gs:\/\/bucket\/logs/],
  [`gs://key:${SECRET}@bucket/logs`, /unknown store URL scheme 'gs:\/\/' in gs:\/\/bucket\/logs/],
  ['s3://Bad_Bucket/logs', /s3:\/\/Bad_Bucket: not a valid bucket name/],
  [`s3://key:${SECRET}@bucket/logs`, /s3:\/\/ URL must not carry credentials/],
  ['s3://bucket/logs/../other', /s3:\/\/bucket\/logs\/\.\.\/other\S*: the key prefix has a '\.\.' segment/],
  ['s3://bucket/./logs', /s3:\/\/bucket\/\.\/logs\S*: the key prefix has a '\.' segment/],
  ['file://host/logs', /file:\/\/host\/logs\S*: File URL host must be "localhost" or empty/]
]

/** Each command with a store URL: its name for the hint, and its command line for `url`. */
const storeCommands: Array<[string, (url: string) => string[], string[]]> = [
  ['write', (url) => ['write', created('w'), '--to', url], [created('w')]],
  ['upload', (url) => ['upload', file, '--to', url], []],
  ['multipart', (url) => ['multipart', url, '--older-than', '7d', '--abort'], []],
  ['read', (url) => ['read', `${url}/*.gz`], []],
  ['ls', (url) => ['ls', `${url}/*.gz`], []],
  ['pack', (url) => ['pack', src, '--to', url], []],
  ['unpack', (url) => ['unpack', `${url}/*`, '--out', created('out')], [created('out')]],
  ['meta push', (url) => ['meta', 'push', url, '--metadir', metadir], [path.join(metadir, '_mmmeta')]],
  ['meta pull', (url) => ['meta', 'pull', url, '--metadir', metadir], [path.join(metadir, '_mmmeta')]],
  ['meta index', (url) => ['meta', 'index', `${url}/*`, '--metadir', metadir], [path.join(metadir, '_mmmeta')]],
  ['meta generate', (url) => ['meta', 'generate', '--archives', `${url}/*`, '--metadir', metadir], [path.join(metadir, '_mmmeta')]],
  ['serve', (url) => ['serve', '--store', url, '--mode', 'collector', '--data', created('data'), '--port', '0'], [created('data')]]
]

function usageLines (command: string, line: RegExp): RegExp {
  return new RegExp(`^shoebox ${command}: ${line.source}[^\\n]*\\n\\(try 'shoebox ${command} --help'\\)\\n$`)
}

/** A refused environment variable: its one line, no "(try ... --help)" after it (its flags cannot fix it). */
function variableLine (command: string, line: RegExp): RegExp {
  return new RegExp(`^shoebox ${command}: ${line.source}[^\\n]*\\n$`)
}

t.test('a store URL that names no store: a usage error, exit 2, nothing done, no secret echoed', async (t) => {
  for (const [command, args, untouched] of storeCommands) {
    for (const [url, line] of badStores) {
      const r = await cli(args(url))
      const what = `${command} ${url}`
      t.equal(r.code, 2, what)
      t.match(r.stderr, usageLines(command, line), what)
      t.equal(r.stdout.length, 0, `${what}: nothing on stdout`)
      t.notOk(r.stderr.includes(SECRET), `${what}: the secret is not echoed`)
      for (const p of untouched) t.notOk(fs.existsSync(p), `${what}: ${path.basename(p)} not created`)
    }
  }
})

t.test('a server URL that is not http(s): a usage error, exit 2, for ship and every events subcommand', async (t) => {
  const commands: Array<[string, (url: string) => string[]]> = [
    ['ship', (url) => ['ship', url, '--stream', 's']],
    ['events get', (url) => ['events', 'get', url, 's']],
    ['events streams', (url) => ['events', 'streams', url]],
    ['events schema', (url) => ['events', 'schema', url, 's']],
    ['events delete', (url) => ['events', 'delete', url, 's', '--from', '0', '--to', '5']]
  ]
  for (const [command, args] of commands) {
    for (const url of ['ftp://x', 'not a url', `ftp://key:${SECRET}@x`]) {
      const r = await cli(args(url), '{"n":1}\n')
      t.equal(r.code, 2, `${command} ${url}`)
      t.match(r.stderr, usageLines(command, /[^\n]+/), `${command} ${url}`)
      t.notOk(r.stderr.includes(SECRET), `${command} ${url}: the secret is not echoed`)
    }
  }
})

/** The commands that take --endpoint: each store command, and meta get and query (for --records' archives). */
const endpointCommands: Array<[string, string[], string[]]> = [
  ...storeCommands.map(([command, args, untouched]): [string, string[], string[]] => [command, args('s3://bkt/logs'), untouched]),
  ['meta get', ['meta', 'get', 'x', '--records', '--metadir', metadir], [path.join(metadir, '_mmmeta')]],
  ['meta query', ['meta', 'query', '--records', '--metadir', metadir], [path.join(metadir, '_mmmeta')]]
]

t.test('a malformed --endpoint is a usage error (exit 2) in every command that takes it, said before anything is made, naming the flag', async (t) => {
  // It was exit 1 in most commands (the store refused it at its first use) and 2 in write and serve; serve made
  // its --data directory (with its collector-id) first.
  for (const [command, args, untouched] of endpointCommands) {
    for (const endpoint of ['ftp://x', 'not a url', `ftp://key:${SECRET}@x`]) {
      const r = await cli([...args, '--endpoint', endpoint])
      const what = `${command} --endpoint ${endpoint}`
      t.equal(r.code, 2, what)
      t.match(r.stderr, usageLines(command, /--endpoint: must be an http:\/\/ or https:\/\/ URL, got "[^"\n]*"/), what)
      t.notMatch(r.stderr, /option endpoint/, `${what}: not the API's name`)
      t.notOk(r.stderr.includes(SECRET), `${what}: the secret is not echoed`)
      for (const p of untouched) t.notOk(fs.existsSync(p), `${what}: ${path.basename(p)} not created`)
    }
  }
})

t.test('a malformed SHOEBOX_S3_ENDPOINT is a usage error (exit 2) where a command opens an S3 store without --endpoint, said before anything is made, naming the variable; a command that opens none is not refused', async (t) => {
  // It was exit 2 in write and serve, 1 in the others (the store met it at its first request).
  const saved = process.env.SHOEBOX_S3_ENDPOINT
  t.teardown(() => { if (saved === undefined) delete process.env.SHOEBOX_S3_ENDPOINT; else process.env.SHOEBOX_S3_ENDPOINT = saved })
  for (const value of ['ftp://x', `ftp://key:${SECRET}@x`]) {
    process.env.SHOEBOX_S3_ENDPOINT = value
    for (const [command, args, untouched] of storeCommands) {
      const r = await cli(args('s3://bkt/logs'), '{"n":1}\n')
      const what = `${command} with SHOEBOX_S3_ENDPOINT=${value}`
      t.equal(r.code, 2, what)
      t.match(r.stderr, variableLine(command, /SHOEBOX_S3_ENDPOINT \(the default endpoint\) must be an http:\/\/ or https:\/\/ URL, got "[^"\n]*"/), what)
      t.notOk(r.stderr.includes(SECRET), `${what}: the secret is not echoed`)
      for (const p of untouched) t.notOk(fs.existsSync(p), `${what}: ${path.basename(p)} not created`)
    }
  }
  // Where the S3 store has an --endpoint, or there is no S3 store, the variable is not read.
  const local = created('local')
  const written = await cli(['write', local], '{"n":1}\n')
  t.equal(written.code, 0, `write to a directory: ${written.stderr}`)
  const read = await cli(['read', path.join(local, '*')])
  t.equal(read.code, 0, `read of a directory: ${read.stderr}`)
  const packed = await cli(['pack', src, '--to', created('local-pack')])
  t.equal(packed.code, 0, `pack to a directory: ${packed.stderr}`)
  const given = await cli(['read', 's3://bkt/logs/*', '--endpoint', 'http://127.0.0.1:1'])
  t.notMatch(given.stderr, /SHOEBOX_S3_ENDPOINT/, 'read with --endpoint: the variable is not its endpoint')
})

t.test('an --endpoint that cannot be reached is no usage error: exit 1, the store\'s failure', async (t) => {
  const server = net.createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  const saved = { ...process.env }
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'key', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' })
  t.teardown(() => { process.env = saved })
  for (const [command, args] of [
    ['ls', ['ls', 's3://bkt/logs/*.gz']],
    ['read', ['read', 's3://bkt/logs/*.gz']],
    ['multipart', ['multipart', 's3://bkt/logs']],
    ['meta pull', ['meta', 'pull', 's3://bkt/logs', '--metadir', metadir]]
  ] as Array<[string, string[]]>) {
    const r = await cli([...args, '--endpoint', `http://127.0.0.1:${port}`])
    t.equal(r.code, 1, command)
    t.match(r.stderr, /endpoint unreachable/, command)
    t.notMatch(r.stderr, /--endpoint|try 'shoebox/, `${command}: not a usage line`)
  }
})
