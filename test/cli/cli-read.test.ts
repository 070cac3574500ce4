/**
 * Issue 9, A1 through the CLI: `shoebox read` and `shoebox decode` print every
 * record before the damage, then one stderr line, exit 1 (strict); lenient
 * prints every record but the damaged one and goes on to the next file.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { cli, cliProcess } from '../cli-run.js'
import { damagedArchive } from '../fixtures-read/damaged.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-read-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const payloads = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `{"${prefix}":${i}}`)
const lines = (list: string[]): string => list.map((p) => `${p}\n`).join('')

function dir (name: string, files: Record<string, Buffer>): string {
  const d = path.join(tmp, name)
  fs.mkdirSync(d)
  for (const [file, bytes] of Object.entries(files)) fs.writeFileSync(path.join(d, file), bytes)
  return d
}

const a = damagedArchive(payloads('n', 100), 2000)
const b = encodeRecords(payloads('b', 100).map((payload) => ({ payload })))
const K = dir('K', { 'a.shoebox': a.bytes, 'b.shoebox': b })
const damageLine = (file: string, offset: number): RegExp => new RegExp(`^shoebox (read|decode): ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: at byte ${offset}: `)

t.test('strict read: the records before the damage, one error line naming file and offset, exit 1', async (t) => {
  const r = await cli(['read', path.join(K, '*'), '--payload-only'])
  t.equal(r.stdout.toString(), lines(payloads('n', 100).slice(0, a.index)))
  t.match(r.stderr, damageLine(path.join(K, 'a.shoebox'), a.offset))
  t.equal(r.stderr.split('\n').length, 2, 'one line')
  t.equal(r.code, 1)
})

t.test('lenient read: every record but the damaged one, all of the next file, the damage reported, exit 1', async (t) => {
  const r = await cli(['read', path.join(K, '*'), '--payload-only', '--lenient'])
  t.equal(r.stdout.toString(), lines([...payloads('n', 100).filter((_, i) => i !== a.index), ...payloads('b', 100)]))
  t.match(r.stderr, new RegExp(`^shoebox read: ${path.join(K, 'a.shoebox')}: skipped \\d+ damaged bytes at byte ${a.offset} `))
  t.equal(r.stderr.split('\n').length, 2, 'one line')
  t.equal(r.code, 1)
})

t.test('--from an offset that is no record start: strict fails there, lenient goes on', async (t) => {
  const strict = await cli(['read', path.join(K, '*'), '--payload-only', '--from', 'a.shoebox:5'])
  t.equal(strict.stdout.toString(), '')
  t.match(strict.stderr, damageLine(path.join(K, 'a.shoebox'), 5))
  t.equal(strict.code, 1)
  const lenient = await cli(['read', path.join(K, '*'), '--payload-only', '--lenient', '--from', 'a.shoebox:5'])
  t.equal(lenient.stdout.toString(), lines([...payloads('n', 100).filter((_, i) => i !== 0 && i !== a.index), ...payloads('b', 100)]))
  t.equal(lenient.code, 1)
})

t.test('100,000 records, 5 MB, through the real binary: all records before the damage', async (t) => {
  const big = damagedArchive(payloads('n', 100000), 3_000_000)
  t.ok(big.bytes.length > 3_500_000)
  const d = dir('big', { 'a.shoebox': big.bytes, 'b.shoebox': b, 'c.shoebox.gz': zlib.gzipSync(b) })
  const strict = await cliProcess(['read', path.join(d, '*'), '--payload-only'])
  const out = strict.stdout.toString()
  t.equal(out.split('\n').length - 1, big.index, `${big.index} lines`)
  t.ok(out === lines(payloads('n', 100000).slice(0, big.index)), 'the records before the damage, in order')
  t.match(strict.stderr, damageLine(path.join(d, 'a.shoebox'), big.offset))
  t.equal(strict.code, 1)
  const lenient = await cliProcess(['read', path.join(d, '*'), '--payload-only', '--lenient'])
  const all = lines([...payloads('n', 100000).filter((_, i) => i !== big.index), ...payloads('b', 100), ...payloads('b', 100)])
  t.ok(lenient.stdout.toString() === all, `every good record of the three files (${lenient.stdout.toString().split('\n').length - 1} lines)`)
  t.equal(lenient.code, 1)
  const decoded = await cliProcess(['decode', '--payload-only', path.join(d, 'a.shoebox')])
  t.ok(decoded.stdout.toString() === lines(payloads('n', 100000).slice(0, big.index)), 'decode: the records before the damage')
  t.match(decoded.stderr, damageLine(path.join(d, 'a.shoebox'), big.offset))
  t.equal(decoded.code, 1)
})

t.test('strict decode of several files: the first, the good part of the damaged one, then its error', async (t) => {
  const r = await cli(['decode', '--payload-only', path.join(K, 'b.shoebox'), path.join(K, 'a.shoebox'), path.join(K, 'b.shoebox')])
  t.equal(r.stdout.toString(), lines([...payloads('b', 100), ...payloads('n', 100).slice(0, a.index)]))
  t.match(r.stderr, damageLine(path.join(K, 'a.shoebox'), a.offset))
  t.equal(r.code, 1)
})

t.test('decode of 30 files: stdout keeps no listeners of the files before (no MaxListenersExceededWarning)', async (t) => {
  // Each file was piped into stdout by a pipeline({ end: false }) of its own, which leaves its listeners on
  // stdout: from the 11th file on, four warnings on stderr, and listeners growing with every file.
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  // Thirty files (one file named 30 times is decoded once: file-args.ts).
  const many = dir('many', Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`b${i}.shoebox`, fs.readFileSync(path.join(K, 'b.shoebox'))])))
  const files = Array.from({ length: 30 }, (_, i) => path.join(many, `b${i}.shoebox`))
  const r = await cli(['decode', '--payload-only', ...files])
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.toString(), lines(files.flatMap(() => payloads('b', 100))))
  t.same(warnings, [], 'no MaxListenersExceededWarning')
})

t.test('a damaged gzip layer: the records before it, then the error (read and decode)', async (t) => {
  const gz = zlib.gzipSync(encodeRecords(payloads('g', 20000).map((payload) => ({ payload }))))
  const cut = gz.subarray(0, Math.floor(gz.length / 2))
  const d = dir('gz', { 'a.shoebox.gz': cut })
  for (const args of [['read', path.join(d, '*')], ['decode', path.join(d, 'a.shoebox.gz')]]) {
    const r = await cli([...args, '--payload-only'])
    const out = r.stdout.toString()
    t.ok(out.length > 0 && lines(payloads('g', 20000)).startsWith(out), `${args[0]}: a prefix of whole records`)
    t.match(r.stderr, /bad-compression/)
    t.equal(r.code, 1)
  }
})

t.test('a failure naming a file with a newline (or another control character) in its name is still one line', async (t) => {
  const dir = path.join(tmp, 'control-names')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'a.shoebox'), encodeRecords([{ payload: 'kept' }]))
  fs.writeFileSync(path.join(dir, 'b\nrm -rf\t\x1b[31m.shoebox'), 'not an archive at all')
  const r = await cli(['read', path.join(dir, '*.shoebox')])
  t.equal(r.code, 1)
  t.match(r.stdout.toString(), /^\{[^\n]*kept[^\n]*\}\n$/, 'the record before it')
  t.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`)
  t.match(r.stderr, /^shoebox read: .*\/b\\nrm -rf\\t\\x1b\[31m\.shoebox: /)
})

t.test('every per-file line of read --lenient, verify, ls and decode --lenient stays one line for a name with control characters', async (t) => {
  const dir = path.join(tmp, 'control-lines')
  fs.mkdirSync(dir)
  const name = 'c\nd\t\x1b[31m.shoebox'
  const good = encodeRecords([{ payload: 'first' }, { payload: 'second' }])
  // Damage in the middle of the second record: the first reads, the rest is a damaged stretch.
  const damaged = Buffer.concat([good.subarray(0, good.length - 3), Buffer.from('zzz')])
  fs.writeFileSync(path.join(dir, name), damaged)
  const file = path.join(dir, name)
  const shown = file.replace('\n', '\\n').replace('\t', '\\t').replace('\x1b', '\\x1b')
  const outputs: Record<string, string> = {
    'read --lenient': (await cli(['read', path.join(dir, '*.shoebox'), '--lenient'])).stderr,
    verify: (await cli(['verify', file])).stdout.toString(),
    ls: (await cli(['ls', path.join(dir, '*.shoebox')])).stdout.toString(),
    'decode --lenient': (await cli(['decode', file, '--lenient'])).stderr
  }
  for (const [command, text] of Object.entries(outputs)) {
    t.notOk(text.includes('\x1b'), `${command}: no raw escape`)
    const lines = text.split('\n').filter((l) => l !== '')
    t.ok(lines.length > 0 && lines.every((l) => !l.startsWith('d\t') && !l.startsWith('d\\t')), `${command}: the name never splits a line: ${JSON.stringify(text)}`)
  }
  t.match(outputs.verify, `${shown}: DAMAGED`)
  t.match(outputs.ls, `${name.replace('\n', '\\n').replace('\t', '\\t').replace('\x1b', '\\x1b')}\t`)
})
