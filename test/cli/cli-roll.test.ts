import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t, { type Test } from 'tap'
import { encodeRecords, naturalCompare, type Position } from '../../lib/index.js'
import { hostName, tempName } from '../../lib/roll/names.js'
import { cli, jsonLines, type CliResult } from '../cli-run.js'
import { decodeRecords } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-roll-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

let dirs = 0
/** A fresh directory name under the temp dir (not created). */
function newDir (label: string): string {
  return path.join(tmp, `${label}-${dirs++}`)
}

function makeLines (n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, k) => JSON.stringify({ i: from + k, pad: 'p'.repeat((from + k) % 37), text: 'héllo 📦' }))
}

const LINES = makeLines(1000)
const INPUT = LINES.join('\n') + '\n'

/** Sealed files in a directory (no dotfiles), in natural order. */
function sealed (dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort(naturalCompare)
}

/** Payloads of each sealed file, read with the library (gzip or not). */
async function payloadsPerFile (dir: string): Promise<string[][]> {
  const out: string[][] = []
  for (const name of sealed(dir)) {
    let bytes = fs.readFileSync(path.join(dir, name))
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = zlib.gunzipSync(bytes)
    out.push((await decodeRecords(bytes)).map((r) => r.payload.toString('utf8')))
  }
  return out
}

function chunks<T> (items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

async function write (dir: string, args: string[], input = INPUT): Promise<CliResult> {
  return cli(['write', dir, ...args], input)
}

function ok (t: Test, r: CliResult, what: string): void {
  t.equal(r.code, 0, `${what}: exit 0`)
  if (r.code !== 0) t.comment(r.stderr)
}

/** A usage error: exit 2, nothing on stdout, the message on one line (then only the help hint). */
function usageError (t: Test, r: CliResult, command: string, message: RegExp): void {
  t.equal(r.code, 2, `exit 2 (${message.source})`)
  t.equal(r.stdout.length, 0, 'stdout stays clean')
  const lines = r.stderr.split('\n').filter((l) => l !== '')
  t.match(lines[0], message)
  t.ok(lines[0]?.startsWith(`shoebox ${command}: `), 'names the command')
  t.same(lines.slice(1), [`(try 'shoebox ${command} --help')`], 'one line of message, then the help hint')
}

/** Let anything a refused command may have started (it should have started nothing) run. */
function settle (): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 100))
}

async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', resolve)
  })
  if (child.pid === undefined) throw new Error('no pid')
  return child.pid
}

t.test('write --roll-records 100 then read: 10 sealed files, the same payloads in order', async (t) => {
  const dir = newDir('records')
  const w = await write(dir, ['--roll-records', '100'])
  ok(t, w, 'write')
  t.equal(w.stdout.length, 0)
  t.match(w.stderr, /^shoebox write: 1000 records, 10 files sealed, \d+ bytes, .* into /)
  t.equal(fs.readdirSync(dir).length, 10, 'no temporary files left')
  const names = sealed(dir)
  t.equal(names.length, 10)
  const pid = String(process.pid)
  names.forEach((name, k) => {
    t.match(name, /^\d{8}T\d{6}\d{6}Z-.+-\d+-\d{6}\.shoebox$/, 'default template')
    t.ok(name.endsWith(`-${pid}-${String(k).padStart(6, '0')}.shoebox`), `file ${k} has seq ${k}`)
  })
  t.same(await payloadsPerFile(dir), chunks(LINES, 100), '100 records per file, in order')

  const pattern = path.join(dir, '*')
  const raw = await cli(['read', pattern, '--payload-only'])
  ok(t, raw, 'read')
  t.equal(raw.stdout.toString('utf8'), INPUT, '--payload-only gives the input lines back')
  t.equal(raw.stderr, '')

  const json = await cli(['read', pattern])
  ok(t, json, 'read')
  t.same(jsonLines(json.stdout), LINES.map((l) => ({ metadata: {}, payload: JSON.parse(l) as unknown })))

  t.test('--order mtime', async (t) => {
    const now = Date.now() / 1000
    names.forEach((name, k) => { fs.utimesSync(path.join(dir, name), now - 10 - k, now - 10 - k) }) // the last file oldest
    const r = await cli(['read', pattern, '--order', 'mtime', '--payload-only'])
    ok(t, r, 'read --order mtime')
    t.equal(r.stdout.toString('utf8'), chunks(LINES, 100).reverse().map((c) => c.join('\n') + '\n').join(''))
    const byName = await cli(['read', pattern, '--order', 'name', '--payload-only'])
    t.equal(byName.stdout.toString('utf8'), INPUT)
  })
})

t.test('--gzip and --gzip=LEVEL', async (t) => {
  // The gzip header's XFL byte says how hard zlib worked: 4 for level 1, 2 for level 9, 0 between.
  for (const [flag, xfl] of [['--gzip', 0], ['--gzip=1', 4], ['--gzip=9', 2]] as const) {
    const dir = newDir('gzip')
    const w = await write(dir, ['--roll-records', '100', flag])
    ok(t, w, `write ${flag}`)
    const names = sealed(dir)
    t.equal(names.length, 10, `${flag}: 10 files`)
    t.ok(names.every((n) => n.endsWith('.shoebox.gz')), `${flag}: .gz names`)
    for (const name of names) {
      const head = fs.readFileSync(path.join(dir, name)).subarray(0, 10)
      if (head[0] !== 0x1f || head[1] !== 0x8b || head[8] !== xfl) t.fail(`${flag}: ${name} is not gzip of the level asked (${head.toString('hex')})`)
    }
    t.same(await payloadsPerFile(dir), chunks(LINES, 100), `${flag}: 100 records per file`)
    const r = await cli(['read', path.join(dir, '*'), '--payload-only'])
    ok(t, r, 'read')
    t.equal(r.stdout.toString('utf8'), INPUT, `${flag}: round-trips`)
  }
  const refusals: Array<[string, RegExp]> = [
    ['0', /--gzip: the level must be an integer from 1 to 9, got "0"$/],
    ['10', /--gzip: the level must be an integer from 1 to 9, got "10"$/],
    ['x', /--gzip: the level must be an integer, got "x"$/]
  ]
  for (const [level, message] of refusals) {
    const dir = newDir('gzip-bad')
    usageError(t, await write(dir, [`--gzip=${level}`]), 'write', message)
    await settle()
    t.notOk(fs.existsSync(dir), `--gzip=${level}: nothing written`)
  }
})

t.test('--roll-size 10KiB', async (t) => {
  const dir = newDir('size')
  const w = await write(dir, ['--roll-size', '10KiB'])
  ok(t, w, 'write')
  const names = sealed(dir)
  t.ok(names.length >= 5, `several files (${names.length})`)
  const r = await cli(['read', path.join(dir, '*'), '--positions'])
  ok(t, r, 'read')
  const records = jsonLines(r.stdout) as Array<{ payload: unknown, position: Position }>
  t.same(records.map((x) => x.payload), LINES.map((l) => JSON.parse(l) as unknown), 'every record, in order')
  names.forEach((name, k) => {
    const size = fs.statSync(path.join(dir, name)).size
    const offsets = records.filter((x) => x.position.file === name).map((x) => x.position.offset)
    t.ok(offsets.length > 0, `${name} has records`)
    t.ok(offsets[offsets.length - 1] < 10240, `${name}: below 10 KiB before its last record`)
    if (k < names.length - 1) t.ok(size >= 10240, `${name}: rolled at 10 KiB (${size} bytes)`)
  })
})

t.test("--template 'x-{seq}.shoebox'", async (t) => {
  const dir = newDir('template')
  ok(t, await write(dir, ['--roll-records', '100', '--template', 'x-{seq}.shoebox']), 'write')
  t.same(sealed(dir), Array.from({ length: 10 }, (_, k) => `x-${String(k).padStart(6, '0')}.shoebox`))
  t.same(await payloadsPerFile(dir), chunks(LINES, 100))

  const gz = newDir('template-gz')
  ok(t, await write(gz, ['--roll-records', '500', '--template', 'x-{seq}.shoebox', '--gzip']), 'write --gzip')
  t.same(sealed(gz), ['x-000000.shoebox.gz', 'x-000001.shoebox.gz'], 'gzip appends .gz')
})

t.test('--meta k=v', async (t) => {
  const dir = newDir('meta')
  ok(t, await write(dir, ['--meta', 'k=v', '--meta', 'env=a=b', '--roll-records', '400'], makeLines(10).join('\n')), 'write')
  const r = await cli(['read', path.join(dir, '*')])
  t.same(jsonLines(r.stdout), makeLines(10).map((l) => ({ metadata: { k: 'v', env: 'a=b' }, payload: JSON.parse(l) as unknown })))
})

t.test('--roll-policy MODULE', async (t) => {
  const policy = path.join(tmp, 'every-7.mjs')
  fs.writeFileSync(policy, 'export default { check (file) { return file.records >= 7 } }\n')
  const maker = path.join(tmp, 'every-7-fn.mjs')
  fs.writeFileSync(maker, 'export default () => ({ check: (file) => file.records >= 7 })\n')
  const input = makeLines(50).join('\n')
  const expected = chunks(makeLines(50), 7)
  t.same(expected.map((c) => c.length), [7, 7, 7, 7, 7, 7, 7, 1])
  for (const module of [policy, maker]) {
    const dir = newDir('policy')
    const w = await write(dir, ['--roll-policy', module], input)
    ok(t, w, `write --roll-policy ${path.basename(module)}`)
    t.same(await payloadsPerFile(dir), expected, `${path.basename(module)}: files of 7 records`)
  }

  t.test('a bad module', async (t) => {
    const dir = newDir('policy-bad')
    const missing = await write(dir, ['--roll-policy', path.join(tmp, 'no-such-policy.mjs')], input)
    usageError(t, missing, 'write', /--roll-policy: cannot load .*no-such-policy\.mjs/)
    t.notOk(fs.existsSync(dir), 'nothing written')
    const notPolicy = path.join(tmp, 'not-a-policy.mjs')
    fs.writeFileSync(notPolicy, 'export default { roll: true }\n')
    usageError(t, await write(dir, ['--roll-policy', notPolicy], input), 'write', /must export a policy object with check/)
    t.notOk(fs.existsSync(dir), 'nothing written')
  })
})

t.test('read --positions, then read --from FILE:OFFSET continues exactly after', async (t) => {
  for (const gzip of [false, true]) {
    const dir = newDir(gzip ? 'positions-gz' : 'positions')
    ok(t, await write(dir, ['--roll-records', '100', ...(gzip ? ['--gzip'] : [])]), 'write')
    const names = sealed(dir)
    const pattern = path.join(dir, '*')
    const r = await cli(['read', pattern, '--positions'])
    ok(t, r, 'read --positions')
    const records = jsonLines(r.stdout) as Array<{ metadata: unknown, payload: unknown, position: Position }>
    t.same(records.map((x) => x.payload), LINES.map((l) => JSON.parse(l) as unknown))
    t.same(records.map((x) => x.position.file), names.flatMap((n) => Array<string>(100).fill(n)), 'file names as the directory lists them')
    const starts = records.filter((_, i) => i % 100 === 0).map((x) => x.position.offset)
    t.same(starts, Array<number>(10).fill(0), 'each file starts at offset 0')
    t.ok(records.every((x, i) => i % 100 === 0 || x.position.offset > records[i - 1].position.offset), 'offsets grow within a file')

    for (const i of [0, 99, 250, 555, 998, 999]) {
      const { file, offset } = records[i].position
      const rest = await cli(['read', pattern, '--from', `${file}:${offset}`, '--payload-only'])
      ok(t, rest, `read --from (record ${i})`)
      t.equal(rest.stdout.toString('utf8'), LINES.slice(i + 1).map((l) => l + '\n').join(''), `${gzip ? 'gzip' : 'plain'}: from record ${i}: records ${i + 1}..999`)
    }
  }

  t.test('a file name with a colon', async (t) => {
    const dir = newDir('colon')
    fs.mkdirSync(dir)
    const bytes = encodeRecords([{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }])
    fs.writeFileSync(path.join(dir, 'x:1.shoebox'), bytes)
    const all = jsonLines((await cli(['read', path.join(dir, '*'), '--positions'])).stdout) as Array<{ position: Position }>
    t.same(all[1].position.file, 'x:1.shoebox')
    const rest = await cli(['read', path.join(dir, '*'), '--from', `x:1.shoebox:${all[1].position.offset}`, '--payload-only'])
    t.equal(rest.stdout.toString(), 'c\n')
  })
})

t.test('ls PATTERN', async (t) => {
  for (const gzip of [false, true]) {
    const dir = newDir(gzip ? 'ls-gz' : 'ls')
    ok(t, await write(dir, ['--roll-records', '100', ...(gzip ? ['--gzip'] : [])]), 'write')
    const names = sealed(dir)
    const r = await cli(['ls', path.join(dir, '*')])
    ok(t, r, 'ls')
    const lines = r.stdout.toString('utf8').split('\n').filter((l) => l !== '')
    t.equal(lines.length, 11, 'one line per file and a total')
    let total = 0
    names.forEach((name, k) => {
      const file = path.join(dir, name)
      const stat = fs.statSync(file)
      const content = fs.readFileSync(file)
      const archiveBytes = gzip ? zlib.gunzipSync(content).length : content.length
      total += stat.size
      t.equal(lines[k], `${name}\t100 records\t${stat.size} bytes\t${gzip ? 'gzip' : 'plain'}\t${archiveBytes} archive bytes\t${new Date(stat.mtimeMs).toISOString()}`)
    })
    t.match(lines[10], new RegExp(`^10 files, 1000 records, ${total} bytes, \\d{4}-.*Z \\.\\. \\d{4}-.*Z$`))
  }

  t.test('damage is marked (exit 1); an empty glob is an error', async (t) => {
    const dir = newDir('ls-damaged')
    fs.mkdirSync(dir)
    const one = encodeRecords([{ payload: 'x' }]).length
    const bytes = encodeRecords([{ payload: 'x' }, { payload: 'y' }, { payload: 'z' }])
    bytes[one + 20] ^= 0xff
    fs.writeFileSync(path.join(dir, 'd.shoebox'), bytes)
    const r = await cli(['ls', path.join(dir, '*.shoebox')])
    t.equal(r.code, 1, 'ls exits 1 when it marks a file DAMAGED')
    t.match(r.stdout.toString(), /^d\.shoebox\t2 records\t.*DAMAGED \(\d+ bytes unreadable\)\n1 file, 2 records/)
    const none = await cli(['ls', path.join(dir, '*.nothing')])
    t.equal(none.code, 1)
    t.equal(none.stdout.toString(), '')
    t.equal(none.stderr, `shoebox ls: no archive matches ${path.join(dir, '*.nothing')}\n`)
  })
})

t.test('recover DIR', async (t) => {
  const pid = await deadPid()
  const host = hostName()

  t.test('a dead writer\'s temporary file is sealed and then readable', async (t) => {
    const dir = newDir('recover')
    fs.mkdirSync(dir)
    const whole = encodeRecords(makeLines(5).map((payload) => ({ payload })))
    const torn = encodeRecords([{ payload: makeLines(1, 5)[0] }]).subarray(0, 20)
    const temp = path.join(dir, tempName('x-000000.shoebox', host, pid))
    fs.writeFileSync(temp, Buffer.concat([whole, torn]))
    const r = await cli(['recover', dir])
    ok(t, r, 'recover')
    t.equal(r.stdout.toString(), `recovered ${temp} -> ${path.join(dir, 'x-000000.shoebox')}: 5 records kept, 20 bytes dropped\n`)
    t.notOk(fs.existsSync(temp), 'the temporary file is gone')
    t.same(fs.readdirSync(dir), ['x-000000.shoebox'])
    const read = await cli(['read', path.join(dir, '*'), '--payload-only'])
    ok(t, read, 'read')
    t.equal(read.stdout.toString(), makeLines(5).map((l) => l + '\n').join(''))
    const again = await cli(['recover', dir])
    ok(t, again, 'recover again')
    t.equal(again.stdout.toString(), 'nothing to recover\n')
  })

  t.test('a clean directory: nothing to recover', async (t) => {
    const dir = newDir('recover-clean')
    ok(t, await write(dir, ['--roll-records', '500']), 'write')
    const before = sealed(dir)
    const r = await cli(['recover', dir])
    ok(t, r, 'recover')
    t.equal(r.stdout.toString(), 'nothing to recover\n')
    t.same(fs.readdirSync(dir).sort(naturalCompare), before)
  })

  t.test("a live writer's and another host's files are left alone (--force takes the other host's)", async (t) => {
    const dir = newDir('recover-skip')
    fs.mkdirSync(dir)
    const bytes = encodeRecords([{ payload: 'kept' }])
    // The test runner: a live process on this host (the CLI runs in this process, whose own pid marks only files its sinks hold).
    const live = path.join(dir, tempName('live.shoebox', host, process.ppid))
    const other = path.join(dir, tempName('other.shoebox', `not-${host}`, pid))
    fs.writeFileSync(live, bytes)
    fs.writeFileSync(other, bytes)
    const r = await cli(['recover', dir])
    ok(t, r, 'recover')
    const out = r.stdout.toString()
    t.match(out, `skipped ${live}: pid ${process.ppid} is still writing it\n`)
    t.match(out, `skipped ${other}: written by host not-${host}`)
    t.match(out, /nothing to recover\n$/)
    t.ok(fs.existsSync(live) && fs.existsSync(other))
    const forced = await cli(['recover', dir, '--force'])
    ok(t, forced, 'recover --force')
    t.match(forced.stdout.toString(), `recovered ${other} -> ${path.join(dir, 'other.shoebox')}: 1 record kept, 0 bytes dropped`)
    t.ok(fs.existsSync(path.join(dir, 'other.shoebox')))
  })

  t.test('write recovers a dead writer\'s file before it starts', async (t) => {
    const dir = newDir('recover-write')
    fs.mkdirSync(dir)
    const temp = path.join(dir, tempName('a-000000.shoebox', host, pid))
    fs.writeFileSync(temp, encodeRecords([{ payload: 'old' }]))
    const w = await write(dir, ['--template', 'b-{seq}.shoebox'], 'new\n')
    ok(t, w, 'write')
    t.match(w.stderr, `shoebox write: recovered ${temp} -> ${path.join(dir, 'a-000000.shoebox')}: 1 record kept, 0 bytes dropped\n`)
    const r = await cli(['read', path.join(dir, '*'), '--payload-only'])
    t.equal(r.stdout.toString(), 'old\nnew\n')
  })
})

t.test('read of a file that is not an archive', async (t) => {
  const dir = newDir('junk')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'a.shoebox'), encodeRecords([{ payload: 'a' }]))
  fs.writeFileSync(path.join(dir, 'b.shoebox'), 'not an archive, only words\n'.repeat(10))
  fs.writeFileSync(path.join(dir, 'c.shoebox'), encodeRecords([{ payload: 'c' }]))
  const strict = await cli(['read', path.join(dir, '*'), '--payload-only'])
  t.equal(strict.code, 1)
  t.equal(strict.stdout.toString(), 'a\n', 'what came before')
  t.equal(strict.stderr.trim().split('\n').length, 1, 'one line on stderr')
  t.match(strict.stderr, `shoebox read: ${path.join(dir, 'b.shoebox')}: at byte 0: bad-magic`)
  const lenient = await cli(['read', path.join(dir, '*'), '--payload-only', '--lenient'])
  t.equal(lenient.code, 1, 'lenient still exits 1 when something was skipped')
  t.equal(lenient.stdout.toString(), 'a\nc\n')
  t.equal(lenient.stderr, `shoebox read: ${path.join(dir, 'b.shoebox')}: skipped: not an archive\n`)
})

t.test('read of a file too short for a record that is not the start of one: strict says not an archive, as lenient does, not "truncated"', async (t) => {
  const dir = newDir('short-junk')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'a.shoebox'), encodeRecords([{ payload: 'a' }]))
  fs.writeFileSync(path.join(dir, 'b.txt'), 'hi')
  const strict = await cli(['read', path.join(dir, '*'), '--payload-only'])
  t.equal(strict.code, 1)
  t.equal(strict.stdout.toString(), 'a\n', 'what came before')
  t.equal(strict.stderr, `shoebox read: ${path.join(dir, 'b.txt')}: at byte 0: bad-magic: expected beginning-of-record marker 84 78 86 69; it is text, not an archive (it begins 'hi'); ` +
    '1 record was written before it (1 file before this one read whole, then 0 records of this one)\n')
  const lenient = await cli(['read', path.join(dir, '*'), '--payload-only', '--lenient'])
  t.equal(lenient.stderr, `shoebox read: ${path.join(dir, 'b.txt')}: skipped: not an archive\n`)
})

t.test('usage errors exit 2 with a one-line message', async (t) => {
  const dir = newDir('usage')
  const pattern = path.join(dir, '*')
  usageError(t, await cli(['write']), 'write', /^shoebox write: needs exactly one directory/)
  usageError(t, await cli(['write', dir, 'other']), 'write', /^shoebox write: needs exactly one directory/)
  usageError(t, await cli(['write', dir, '--roll-records', 'abc']), 'write', /--roll-records: must be a positive integer, got "abc"/)
  usageError(t, await cli(['write', dir, '--roll-records', '0']), 'write', /--roll-records: must be a positive integer, got "0"/)
  usageError(t, await cli(['write', dir, '--fsync', 'sometimes']), 'write', /--fsync: must be 'never', 'onClose', 'interval' or 'always', got "sometimes"$/)
  usageError(t, await cli(['write', dir, '--format', 'v3']), 'write', /--format: must be 'v1' or 'v2', got "v3"$/)
  usageError(t, await cli(['write', dir, '--meta', 'novalue']), 'write', /--meta: must be key=value, got "novalue"/)
  usageError(t, await cli(['write', dir, '--nope']), 'write', /unknown option '--nope'$/)
  usageError(t, await cli(['write', dir, '--meta-from-field', 'k=']), 'write', /--meta-from-field: must be \[key=\]path, got "k="/)
  // Values the rolling sink refuses are usage errors too.
  usageError(t, await cli(['write', dir, '--roll-size', 'abc']), 'write', /^shoebox write: --roll-size: expected a size such as 100MiB/)
  usageError(t, await cli(['write', dir, '--roll-age', '5 parsecs']), 'write', /^shoebox write: --roll-age: expected a duration/)
  usageError(t, await cli(['write', dir, '--template', 'x-%Q']), 'write', /^shoebox write: --template: unknown field %Q/)
  // '../x-%Y' was written as the dotfile '.._x-2026', which no reader's glob matched.
  usageError(t, await cli(['write', dir, '--template', '../x-%Y']), 'write', /template: '\.\.\/x-%Y' starts with '\.': its files would be hidden \(readers skip dotfiles\)/)
  usageError(t, await cli(['write', dir, '--template', '.hidden-{seq}']), 'write', /starts with '\.'/)
  usageError(t, await cli(['write', dir, '--flush-interval', 'soon']), 'write', /--flush-interval: expected a duration/)
  await settle()
  t.notOk(fs.existsSync(dir), 'no directory made by a write that was refused')
  usageError(t, await cli(['read']), 'read', /^shoebox read: needs exactly one PATTERN/)
  usageError(t, await cli(['read', pattern, pattern]), 'read', /^shoebox read: needs exactly one PATTERN/)
  usageError(t, await cli(['read', pattern, '--order', 'bad']), 'read', /--order: must be 'name' or 'mtime', got "bad"/)
  usageError(t, await cli(['read', pattern, '--from', 'nocolon']), 'read', /--from: must be FILE:OFFSET \(or FILE:OFFSET@MEMBER\+SKIP in a compressed file\), got "nocolon"/)
  usageError(t, await cli(['read', pattern, '--from', 'f:-1']), 'read', /--from: must be FILE:OFFSET .*, got "f:-1"/)
  usageError(t, await cli(['read', pattern, '--from', ':5']), 'read', /--from: must be FILE:OFFSET .*, got ":5"/)
  usageError(t, await cli(['ls']), 'ls', /^shoebox ls: needs exactly one PATTERN/)
  usageError(t, await cli(['recover']), 'recover', /recover needs exactly one directory/)
})

t.test('help', async (t) => {
  for (const command of ['write', 'read', 'ls', 'recover']) {
    const r = await cli([command, '--help'])
    t.equal(r.code, 0)
    t.match(r.stdout.toString(), `Usage: shoebox ${command}`)
  }
  const main = await cli(['--help'])
  for (const command of ['write', 'read', 'ls', 'recover']) t.match(main.stdout.toString(), new RegExp(`\\n {2}${command} `))
})
