import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { cli, cliProcess, jsonLines } from '../cli-run.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

function tmpFile (name: string, content: Buffer): string {
  const file = path.join(tmp, name)
  fs.writeFileSync(file, content)
  return file
}

const ndjson = '{"a":1}\r\n{"b":"héllo 世界 📦"}\n\n  \n{"c":[1,2,{"d":null}]}\n{"last":"no newline"}'
const parsed = [{ a: 1 }, { b: 'héllo 世界 📦' }, { c: [1, 2, { d: null }] }, { last: 'no newline' }]

t.test('encode then decode round-trips NDJSON (CRLF, blank lines, unicode, no final newline)', async (t) => {
  for (const format of ['v1', 'v2']) {
    const enc = await cli(['encode', '--format', format], ndjson)
    t.equal(enc.code, 0, `${format}: encode exits 0`)
    t.equal(enc.stderr, '', `${format}: nothing on stderr`)
    const file = tmpFile(`roundtrip-${format}.shoebox`, enc.stdout)
    const dec = await cli(['decode', file])
    t.equal(dec.code, 0)
    t.same(jsonLines(dec.stdout), parsed.map((payload) => ({ metadata: {}, payload })), `${format}: records`)
  }
})

t.test('encode --format v1 writes exactly the legacy bytes', async (t) => {
  const enc = await cli(['encode', '--format', 'v1', '--meta', 'event=x'], '{"i":0}\n{"i":1}\n')
  const expected = encodeRecords([0, 1].map((i) => ({ metadata: { event: 'x' }, payload: Buffer.from(`{"i":${i}}`) })), { format: 'v1' })
  t.ok(enc.stdout.equals(expected))
})

t.test('--meta and --meta-from-field set metadata', async (t) => {
  const input = '{"type":"order","user":{"id":7}}\n{"type":"refund"}\n'
  const enc = await cli(['encode', '--meta', 'host=a=b', '--meta-from-field', 'type', '--meta-from-field', 'uid=user.id'], input)
  t.equal(enc.code, 0)
  const dec = await cli(['decode', '-'], enc.stdout)
  t.same(jsonLines(dec.stdout), [
    { metadata: { host: 'a=b', type: 'order', uid: '7' }, payload: { type: 'order', user: { id: 7 } } },
    { metadata: { host: 'a=b', type: 'refund' }, payload: { type: 'refund' } }
  ])
})

t.test('--validate stops at a bad line, keeps everything before it, exits 1', async (t) => {
  const input = '{"ok":1}\n{"ok":2}\nnot json\n{"ok":3}\n'
  const enc = await cli(['encode', '--validate'], input)
  t.equal(enc.code, 1)
  t.match(enc.stderr, /line 3: invalid JSON/)
  t.equal(enc.stderr.trim().split('\n').length, 1, 'one line on stderr')
  const dec = await cli(['decode'], enc.stdout)
  t.same(jsonLines(dec.stdout).map((r) => (r as { payload: unknown }).payload), [{ ok: 1 }, { ok: 2 }])
})

t.test('--validate --on-invalid skip drops bad lines and reports them', async (t) => {
  const input = '{"ok":1}\nnope\n{"ok":2}\n{broken\n{"ok":3}\n'
  const enc = await cli(['encode', '--validate', '--on-invalid', 'skip'], input)
  t.equal(enc.code, 0)
  t.match(enc.stderr, /skipped stdin line 2/)
  t.match(enc.stderr, /skipped stdin line 4/)
  t.match(enc.stderr, /3 records written, 2 invalid lines skipped/)
  const dec = await cli(['decode'], enc.stdout)
  t.same(jsonLines(dec.stdout).map((r) => (r as { payload: unknown }).payload), [{ ok: 1 }, { ok: 2 }, { ok: 3 }])
})

t.test('without --validate a non-JSON line is kept as-is', async (t) => {
  const enc = await cli(['encode'], 'plain text line\n')
  const dec = await cli(['decode'], enc.stdout)
  t.same(jsonLines(dec.stdout), [{ metadata: {}, payload: 'plain text line', payloadEncoding: 'utf8' }])
})

t.test('decode marks binary payloads base64 and --payload-only prints raw payloads', async (t) => {
  const binary = Buffer.from([0, 255, 1, 254])
  const file = tmpFile('mixed.shoebox', encodeRecords([
    { metadata: { k: 'v' }, payload: binary },
    { payload: 'text' },
    { payload: { json: true } }
  ]))
  const dec = await cli(['decode', file])
  t.same(jsonLines(dec.stdout), [
    { metadata: { k: 'v' }, payload: binary.toString('base64'), payloadEncoding: 'base64' },
    { metadata: {}, payload: 'text', payloadEncoding: 'utf8' },
    { metadata: {}, payload: { json: true } }
  ])
  const raw = await cli(['decode', '--payload-only', file])
  t.ok(raw.stdout.equals(Buffer.concat([binary, Buffer.from('\ntext\n{"json":true}\n')])))
})

t.test('decode reads several files in order', async (t) => {
  const a = tmpFile('a.shoebox', encodeRecords([{ payload: 1 }, { payload: 2 }]))
  const b = tmpFile('b.shoebox', encodeRecords([{ payload: 3 }], { format: 'v1' }))
  const dec = await cli(['decode', '--payload-only', a, b])
  t.equal(dec.stdout.toString(), '1\n2\n3\n')
})

function damagedArchive (): { file: string, badOffset: number, size: number } {
  const records = [0, 1, 2, 3].map((i) => ({ metadata: { i: String(i) }, payload: { i } }))
  const one = encodeRecords([records[0]]).length
  const bytes = encodeRecords(records)
  bytes[2 * one + 30] ^= 0xff // inside record 2's metadata: its checksum fails
  return { file: tmpFile('damaged.shoebox', bytes), badOffset: 2 * one, size: one }
}

t.test('decode of a damaged archive: strict prints the records before it and one error line', async (t) => {
  const { file, badOffset } = damagedArchive()
  const dec = await cli(['decode', '--payload-only', file])
  t.equal(dec.code, 1)
  t.equal(dec.stdout.toString(), '{"i":0}\n{"i":1}\n')
  t.equal(dec.stderr.trim().split('\n').length, 1)
  t.match(dec.stderr, `${file}: at byte ${badOffset}: bad-checksum`)
})

t.test('decode --lenient skips the damage, reports it, exits 1', async (t) => {
  const { file, badOffset, size } = damagedArchive()
  const dec = await cli(['decode', '--lenient', '--payload-only', file])
  t.equal(dec.code, 1)
  t.equal(dec.stdout.toString(), '{"i":0}\n{"i":1}\n{"i":3}\n')
  t.match(dec.stderr, `skipped ${size} damaged bytes at byte ${badOffset}`)
})

t.test('verify reports counts, damage and exit codes', async (t) => {
  const good = tmpFile('good.shoebox', Buffer.concat([
    encodeRecords([{ payload: 'a' }, { payload: 'b' }], { format: 'v1' }),
    encodeRecords([{ payload: 'c' }], { checksum: 'crc32c' })
  ]))
  const ok = await cli(['verify', good])
  t.equal(ok.code, 0)
  t.match(ok.stdout.toString(), `${good}: OK: 3 records (v1 2, v2 1)`)
  const { file, badOffset } = damagedArchive()
  const bad = await cli(['verify', good, file])
  t.equal(bad.code, 1)
  t.match(bad.stdout.toString(), `${file}: DAMAGED: 3 records`)
  t.match(bad.stdout.toString(), `at byte ${badOffset}: bad-checksum`)
  const truncated = tmpFile('truncated.shoebox', fs.readFileSync(good).subarray(0, -3))
  const cut = await cli(['verify', truncated])
  t.equal(cut.code, 1)
  t.match(cut.stdout.toString(), 'truncated')
})

t.test('missing files, bad options and unknown commands fail with one clear line', async (t) => {
  const missing = path.join(tmp, 'nope.shoebox')
  for (const args of [['decode', missing], ['verify', missing]]) {
    const r = await cli(args)
    t.equal(r.code, 1, args.join(' '))
    t.match(r.stdout.toString() + r.stderr, `cannot read ${missing}: no such file or directory`)
  }
  const usage: Array<[string[], RegExp]> = [
    [['encode', '--format', 'v3'], /--format: must be 'v1' or 'v2', got "v3"\n/],
    [['encode', '--nope'], /unknown option '--nope'\n/],
    [['encode', 'file.ndjson'], /takes no arguments \(it reads stdin\), got "file.ndjson"/],
    [['encode', '--meta', 'novalue'], /--meta: must be key=value, got "novalue"/],
    [['verify'], /needs at least one file/],
    [['frobnicate'], /unknown command 'frobnicate'/]
  ]
  for (const [args, message] of usage) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, message)
    t.equal(r.stdout.length, 0, 'stdout stays clean')
  }
})

t.test('help and version', async (t) => {
  for (const command of ['encode', 'decode', 'verify']) {
    const r = await cli([command, '--help'])
    t.equal(r.code, 0)
    t.match(r.stdout.toString(), `Usage: shoebox ${command}`)
  }
  const main = await cli(['--help'])
  t.match(main.stdout.toString(), /Commands:\n {2}encode/)
  const none = await cli([])
  t.equal(none.code, 2)
  const version = await cli(['--version'])
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.equal(version.stdout.toString().trim(), pkg.version)
})

t.test('the real binary: exit codes and stdout/stderr of a process', async (t) => {
  const enc = await cliProcess(['encode'], '{"x":1}\n')
  t.equal(enc.code, 0)
  const dec = await cliProcess(['decode', '-'], enc.stdout)
  t.same(jsonLines(dec.stdout), [{ metadata: {}, payload: { x: 1 } }])
  const bad = await cliProcess(['decode', path.join(tmp, 'missing')])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^shoebox decode: cannot read .*missing: no such file or directory \(ENOENT\)\n$/)
})

t.test('a reader that goes away early is not an error', async (t) => {
  const lines = Array.from({ length: 20000 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(100) })).join('\n')
  const file = tmpFile('many.shoebox', (await cli(['encode'], lines)).stdout)
  const { spawn } = await import('node:child_process')
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [cliBinary(), 'decode', file])
    child.stdout.once('data', () => { child.stdout.destroy() })
    child.on('close', resolve)
  })
  t.equal(code, 0)
})
