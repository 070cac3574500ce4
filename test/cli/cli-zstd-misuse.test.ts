/**
 * zstd as a careless user meets it: level flags that are not integers (the
 * error names what was typed, not NaN or 0), two codecs at once, an unknown
 * codec, on encode, write and pack; and archives that are not what their
 * names say: a truncated .shoebox.zst, a zstd file named .gz, an empty
 * .shoebox.zst, through read, decode, verify, ls and unpack.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { hostName, tempName } from '../../lib/roll/names.js'
import { cli } from '../cli-run.js'
import { deadPid } from '../fixtures-roll/util.js'
import { zstdBlockEnds } from '../helpers.js'

const LINES = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, text: `héllo 📦 ${'x'.repeat(i % 41)}` }))
const INPUT = LINES.join('\n') + '\n'

/** A usage failure: the message on one line, then the hint. */
const usageLines = (command: string): RegExp => new RegExp(`^shoebox ${command}: [^\\n]+\\n\\(try 'shoebox ${command} --help'\\)\\n$`)

t.test('level flags: what was typed is named; nothing is created', async (t) => {
  const dir = t.testdir({ tree: { 'a.json': '{"a":1}' } })
  const commands: Array<[string, string[]]> = [
    ['encode', ['encode']], ['write', ['write', path.join(dir, 'w')]], ['pack', ['pack', path.join(dir, 'tree'), '--to', path.join(dir, 'p')]]
  ]
  const cases: Array<[string, RegExp]> = [
    ['--zstd=abc', /: --zstd: the level must be an integer, got "abc"\n/],
    ['--zstd=', /: --zstd: the level must be an integer, got ""\n/],
    ['--zstd=1.5', /: --zstd: the level must be an integer, got "1\.5"\n/],
    ['--gzip=fast', /: --gzip: the level must be an integer, got "fast"\n/],
    ['--zstd=0', /: --zstd: the level must be an integer from -131072 to 22, not 0, got "0"\n/],
    ['--zstd=23', /: --zstd: the level must be an integer from -131072 to 22, not 0, got "23"\n/],
    ['--gzip=10', /: --gzip: the level must be an integer from 1 to 9, got "10"\n/],
    // Number() rounds these (1e20; 10): the line quotes the digits typed.
    ['--zstd=99999999999999999999', /: --zstd: the level must be an integer from -131072 to 22, not 0, got "99999999999999999999"\n/],
    ['--gzip=0010', /: --gzip: the level must be an integer from 1 to 9, got "0010"\n/]
  ]
  for (const [name, args] of commands) {
    for (const [flag, message] of cases) {
      const r = await cli([...args, flag], INPUT)
      t.equal(r.code, 2, `${name} ${flag}`)
      t.match(r.stderr, usageLines(name), `${name} ${flag}: one line and the hint`)
      t.match(r.stderr, message, `${name} ${flag}`)
      t.equal(r.stdout.length, 0, `${name} ${flag}: nothing written`)
    }
    for (const [flags, message] of [[['--zstd', '--gzip'], /give one of --gzip, --zstd, not both/], [['--compress', 'brotli'], /--compress: must be 'none', 'gzip' or 'zstd', got "brotli"\n/]] as const) {
      const r = await cli([...args, ...flags], INPUT)
      t.equal(r.code, 2, `${name} ${flags.join(' ')}`)
      t.match(r.stderr, message, `${name} ${flags.join(' ')}`)
    }
  }
  t.same(fs.readdirSync(dir).sort(), ['tree'], 'no directory made by a refused write or pack')
})

t.test('a truncated .shoebox.zst: read, decode, verify and ls each fail in one line naming the file; exit 1', async (t) => {
  const dir = t.testdir()
  t.equal((await cli(['write', path.join(dir, 'w'), '--zstd'], INPUT)).code, 0)
  const [name] = fs.readdirSync(path.join(dir, 'w')).filter((n) => n.endsWith('.shoebox.zst'))
  const whole = fs.readFileSync(path.join(dir, 'w', name))
  const cut = path.join(dir, 'cut.shoebox.zst')
  fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)))
  for (const command of ['read', 'decode']) {
    const r = await cli([command, cut])
    t.equal(r.code, 1, command)
    t.match(r.stderr, /^shoebox \w+: \S*cut\.shoebox\.zst: at byte \d+: bad-compression: zstd data: .*cut short[^\n]*\n$/, `${command}: one line naming the file`)
  }
  const verify = await cli(['verify', cut])
  t.equal(verify.code, 1)
  t.match(verify.stdout.toString(), /cut\.shoebox\.zst: DAMAGED: 0 records .*zstd readable.*\n.*cut\.shoebox\.zst: {3}at compressed byte 0: bad-compression: .*cut short/)
  const ls = await cli(['ls', cut])
  t.equal(ls.code, 1)
  t.match(ls.stdout.toString(), /cut\.shoebox\.zst\t.*\tzstd\t.*DAMAGED \(zstd damaged at compressed byte \d+\)/)
})

t.test('a .shoebox.zst torn inside a frame of several blocks: read and decode print the records of its whole blocks, then one line saying so', async (t) => {
  const dir = t.testdir()
  // About 1.2 MB of records: a first frame of 1 MiB (eight 128 KiB blocks), torn in its fourth.
  const lines = Array.from({ length: 12000 }, (_, i) => JSON.stringify({ i, text: `héllo 📦 ${'x'.repeat(i % 41)}` }))
  t.equal((await cli(['write', path.join(dir, 'w'), '--zstd'], lines.join('\n') + '\n')).code, 0)
  const [name] = fs.readdirSync(path.join(dir, 'w')).filter((n) => n.endsWith('.shoebox.zst'))
  const whole = fs.readFileSync(path.join(dir, 'w', name))
  const torn = path.join(dir, 'torn.shoebox.zst')
  fs.writeFileSync(torn, whole.subarray(0, zstdBlockEnds(whole)[2] + 50))
  const decoded = await cli(['decode', '--payload-only', torn])
  t.equal(decoded.code, 1)
  const out = decoded.stdout.toString().split('\n').slice(0, -1)
  t.ok(out.length > 1000 && out.length < 12000, `the records of three blocks (${out.length})`)
  t.same(out, lines.slice(0, out.length), 'the first records, whole and in order')
  t.match(decoded.stderr, /^shoebox decode: \S*torn\.shoebox\.zst: at byte 0: bad-compression: zstd data: .*cut short.*its first 393216 bytes \(3 of 3 whole blocks\) were read[^\n]*\n$/)
  const lenient = await cli(['decode', '--payload-only', '--lenient', torn])
  t.equal(lenient.code, 1)
  t.same(lenient.stdout.toString().split('\n').slice(0, -1), out, 'lenient: the same records')
  t.match(lenient.stderr, /skipped \d+ damaged compressed bytes at compressed byte 0 .*\(3 of 3 whole blocks\) were read/)
  const read = await cli(['read', torn])
  t.equal(read.code, 1)
  t.equal(read.stdout.toString().split('\n').length - 1, out.length, 'read: the same number of records')
  const verify = await cli(['verify', torn])
  t.match(verify.stdout.toString(), /torn\.shoebox\.zst: {3}at compressed byte 0: bad-compression: .*\(3 of 3 whole blocks\) were read/)
})

t.test('a zstd archive named .gz is read by its magic bytes; ls and verify say zstd', async (t) => {
  const dir = t.testdir()
  const encoded = await cli(['encode', '--zstd'], INPUT)
  const file = path.join(dir, 'liar.shoebox.gz')
  fs.writeFileSync(file, encoded.stdout)
  const read = await cli(['decode', '--payload-only', file])
  t.equal(read.code, 0, read.stderr)
  t.equal(read.stdout.toString(), INPUT)
  t.match((await cli(['verify', file])).stdout.toString(), /OK: 3000 records .*, zstd\n/)
  t.match((await cli(['ls', file])).stdout.toString(), /liar\.shoebox\.gz\t3000 records\t\d+ bytes\tzstd\t/)
})

t.test('an empty .shoebox.zst is an empty archive: no records, exit 0, for read, verify and ls', async (t) => {
  const dir = t.testdir({ 'empty.shoebox.zst': '' })
  const file = path.join(dir, 'empty.shoebox.zst')
  const read = await cli(['read', file])
  t.same([read.code, read.stdout.length, read.stderr], [0, 0, ''])
  t.match((await cli(['verify', file])).stdout.toString(), /OK: 0 records/)
  const ls = await cli(['ls', file])
  t.equal(ls.code, 0)
  t.match(ls.stdout.toString(), /empty\.shoebox\.zst\t0 records\t0 bytes\t/)
})

t.test('unpack of a truncated zstd pack: one line naming the archive, exit 1', async (t) => {
  const dir = t.testdir({ tree: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}.json`, LINES.slice(i * 100, i * 100 + 100).join('\n')])) })
  const packed = await cli(['pack', path.join(dir, 'tree'), '--to', path.join(dir, 'p'), '--zstd'])
  t.equal(packed.code, 0, packed.stderr)
  const [name] = fs.readdirSync(path.join(dir, 'p')).filter((n) => n.endsWith('.shoebox.zst'))
  const file = path.join(dir, 'p', name)
  fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2))
  const r = await cli(['unpack', file, '--out', path.join(dir, 'out')])
  t.equal(r.code, 1)
  t.match(r.stderr, new RegExp(`^shoebox unpack: [^\\n]*${name.replace(/\./g, '\\.')}[^\\n]*cut short[^\\n]*\\n$`))
})

t.test('a mistyped SHOEBOX_ZSTD: every command that needs zstd says the variable is at fault (not a stream or file), exit 2', async (t) => {
  const dir = t.testdir({ tree: { 'a.json': '{"a":1}' } })
  // The variable is checked before any zstd is loaded: a file that begins as zstd does is enough.
  const zst = path.join(dir, 'a.shoebox.zst')
  fs.writeFileSync(zst, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]))
  const saved = process.env.SHOEBOX_ZSTD
  process.env.SHOEBOX_ZSTD = 'libzst'
  t.teardown(() => { if (saved === undefined) delete process.env.SHOEBOX_ZSTD; else process.env.SHOEBOX_ZSTD = saved })
  const commands: Array<[string, string[]]> = [
    ['encode', ['encode', '--zstd']],
    ['write', ['write', path.join(dir, 'w'), '--zstd']],
    ['pack', ['pack', path.join(dir, 'tree'), '--to', path.join(dir, 'p'), '--zstd']],
    ['read', ['read', zst]],
    ['read', ['read', zst, '--lenient']],
    ['decode', ['decode', zst]],
    ['unpack', ['unpack', zst, '--out', path.join(dir, 'out')]],
    // These two said the file was UNREADABLE, exit 1: the file is not at fault.
    ['verify', ['verify', zst]],
    ['ls', ['ls', zst]]
  ]
  for (const [name, args] of commands) {
    const r = await cli(args, INPUT)
    const what = args.join(' ')
    t.equal(r.code, 2, what)
    // encode said 'shoebox encode: stdout: SHOEBOX_ZSTD ...', the others the file or directory.
    t.match(r.stderr, new RegExp(`^shoebox ${name}: SHOEBOX_ZSTD must be one of 'auto', 'zlib', 'libzstd', 'package', '0' \\(or unset\\), got "libzst"(; nothing was uploaded to \\S+|; nothing restored into \\S+ \\(made for this unpack, removed again\\))?\\n$`), what)
    t.equal(r.stdout.length, 0, `${what}: nothing on stdout`)
  }
})

t.test('a mistyped SHOEBOX_ZSTD met after recover recovered a file: the line adds what was recovered and keeps no --help hint under it', async (t) => {
  // recover re-words the error to say what it recovered first; a rebuilt plain ShoeboxError lost the refusal's
  // class (VariableRefusedError), and main.ts printed "(try 'shoebox recover --help')" under an environment's setting.
  const dir = t.testdir({})
  const pid = await deadPid()
  fs.writeFileSync(path.join(dir, tempName('a-000000.shoebox', hostName(), pid)), (await cli(['encode'], INPUT)).stdout)
  fs.writeFileSync(path.join(dir, tempName('b-000000.shoebox.zst', hostName(), pid)), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]))
  const saved = process.env.SHOEBOX_ZSTD
  process.env.SHOEBOX_ZSTD = 'libzst'
  t.teardown(() => { if (saved === undefined) delete process.env.SHOEBOX_ZSTD; else process.env.SHOEBOX_ZSTD = saved })
  const r = await cli(['recover', dir])
  t.equal(r.code, 2, r.stderr)
  t.match(r.stdout.toString(), /^recovered /, 'the gzip file was recovered first')
  t.equal(r.stderr, 'shoebox recover: SHOEBOX_ZSTD must be one of \'auto\', \'zlib\', \'libzstd\', \'package\', \'0\' (or unset), got "libzst"; 1 file recovered before it (listed above), the rest left as they were\n')
})
