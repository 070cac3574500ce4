/**
 * NDJSON input compressed with gzip or zstd (known by its magic bytes) is
 * decompressed by `write` and `encode`: the records are the lines of the
 * text, from a pipe in chunks of any size and from a regular file on stdin,
 * whatever the members or frames (and skippable frames) it is made of.
 * Before, the compressed bytes were stored as records, cut at each 0x0a,
 * and the command exited 0. A torn or damaged input seals (writes) every
 * whole line before the damage, then fails with one line naming stdin and
 * the compressed offset. Text that merely starts like nothing of the kind
 * is untouched.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import zlib from 'node:zlib'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { chunked, chunkedInTurn, decodeRecords, garbleZstdFrame, seededText, withoutZstd, withZstdChoice } from '../helpers.js'
import { readDir } from '../fixtures-roll/util.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-compressed-input-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
let runs = 0

/** ~300 KB of lines, and its last line without a newline (a line at a clean end, as for plain input). */
const TEXT = Buffer.concat([seededText(7).lines(300_000), Buffer.from('{"last":"no newline"}')])
const LINES = TEXT.toString('utf8').split('\n')

/** Places to cut TEXT at, each inside a line: members and frames whose text ends mid-line. */
const CUTS = [1001, 70_003, 150_007, 230_011]

function pieces (text: Buffer): Buffer[] {
  return [0, ...CUTS].map((from, i) => text.subarray(from, i < CUTS.length ? CUTS[i] : text.length))
}

/** A skippable zstd frame (magic 0x184D2A5?, length, bytes): readers pass over it. */
function skippable (bytes: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32LE(0x184d2a53, 0)
  head.writeUInt32LE(bytes.length, 4)
  return Buffer.concat([head, bytes])
}

async function zstdFrames (text: Buffer): Promise<Buffer[]> {
  return await Promise.all(pieces(text).map(async (p) => await zstdFrame(p, 3)))
}

/** TEXT in each form a careless user may pipe in. */
async function forms (text: Buffer): Promise<Array<[string, Buffer]>> {
  const frames = await zstdFrames(text)
  return [
    ['plain', text],
    ['gzip', zlib.gzipSync(text)],
    ['gzip, a member per piece', Buffer.concat(pieces(text).map((p) => zlib.gzipSync(p)))],
    ['zstd', await zstdFrame(text, 3)],
    ['zstd, a frame per piece and skippable frames', Buffer.concat([skippable(Buffer.from('ignored')), frames[0], skippable(Buffer.alloc(300, 0x0a)), ...frames.slice(1)])]
  ]
}

/**
 * How stdin comes: a pipe in chunks of that many bytes, a pipe in chunks of 1, 2, ... 13 bytes in turn
 * ('small': every magic, header, trailer and boundary split somewhere, in chunks of several sizes), or a
 * regular file.
 */
type How = number | 'small' | 'file'

const SMALL = Array.from({ length: 13 }, (_, i) => i + 1)

function said (how: How): string {
  return how === 'file' ? 'a file on stdin' : how === 'small' ? 'a pipe in 1- to 13-byte chunks' : `a pipe in ${how}-byte chunks`
}

interface Run { code: number, stdout: Buffer, stderr: string, dir: string }

function collect (into: Buffer[]): Writable {
  return new Writable({ write (chunk: Buffer, _e, cb) { into.push(Buffer.from(chunk)); cb() } })
}

/** `shoebox <command> [DIR] ...args` with `input` on stdin, as `how` says. */
async function run (command: 'write' | 'encode', args: string[], input: Buffer, how: How): Promise<Run> {
  const dir = path.join(tmp, `out-${++runs}`)
  const out: Buffer[] = []
  const err: Buffer[] = []
  const argv = command === 'write' ? ['write', dir, ...args] : ['encode', ...args]
  let code: number
  if (how === 'file') {
    const file = path.join(tmp, `in-${runs}`)
    fs.writeFileSync(file, input)
    const fd = fs.openSync(file, 'r')
    try {
      // A regular file, as processIo() gives it: write reads the descriptor (stdinFile), encode the stream.
      code = await main(argv, { stdin: fs.createReadStream(file), stdout: collect(out), stderr: collect(err), stdinFile: fd })
    } finally {
      fs.closeSync(fd)
    }
  } else {
    code = await main(argv, { stdin: Readable.from(how === 'small' ? chunkedInTurn(input, SMALL) : chunked(input, how)), stdout: collect(out), stderr: collect(err) })
  }
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), dir }
}

/** The payloads a run stored: write's sealed files, or encode's archive. */
async function payloads (command: 'write' | 'encode', r: Run): Promise<string[]> {
  const records = command === 'write' ? (fs.existsSync(r.dir) ? readDir(r.dir).records : []) : await decodeRecords(r.stdout)
  return records.map((rec) => rec.payload.toString('utf8'))
}

for (const command of ['write', 'encode'] as const) {
  t.test(`${command}: plain, gzip, multi-member gzip, zstd and multi-frame zstd give the same records, from a pipe and a file`, async (t) => {
    for (const [form, bytes] of await forms(TEXT)) {
      for (const how of ['small', 65536, 'file'] as const) {
        const r = await run(command, [], bytes, how)
        t.equal(r.code, 0, `${form}, ${said(how)}: ${r.stderr}`)
        t.same(await payloads(command, r), LINES, `${form}, ${said(how)}: every line`)
      }
    }
  })

  t.test(`${command}: an empty compressed input is zero lines, as an empty plain one`, async (t) => {
    const plain = await run(command, [], Buffer.alloc(0), 'file')
    t.equal(plain.code, 0, plain.stderr)
    for (const [form, bytes] of [['gzip', zlib.gzipSync(Buffer.alloc(0))], ['zstd', await zstdFrame(Buffer.alloc(0), 3)]] as const) {
      for (const how of [1, 'file'] as const) {
        const r = await run(command, [], bytes, how)
        t.equal(r.code, 0, `${form}, ${how}: ${r.stderr}`)
        t.same(await payloads(command, r), [], `${form}, ${how}: no record`)
        t.same(await payloads(command, r), await payloads(command, plain))
        if (command === 'encode') t.ok(r.stdout.equals(plain.stdout), `${form}, ${how}: the archive of an empty plain input`)
        else t.match(r.stderr, /^shoebox write: 0 records, 0 files sealed/)
      }
    }
  })
}

/** The whole lines of text inflated from a gzip input cut short (zlib gives what it inflated before the cut). */
function wholeLinesBefore (text: Buffer): string[] {
  const s = text.toString('utf8')
  return s.slice(0, s.lastIndexOf('\n') + 1).split('\n').slice(0, -1)
}

t.test('a torn gzip input: the whole lines before the tear are sealed, then one line naming stdin and the offset, exit 1', async (t) => {
  const gz = zlib.gzipSync(TEXT)
  const torn = gz.subarray(0, Math.floor(gz.length * 0.6))
  const inflated = zlib.gunzipSync(torn, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  const kept = wholeLinesBefore(inflated)
  t.ok(kept.length > 100, 'the tear is well into the input')
  for (const how of [4096, 'file'] as const) {
    const w = await run('write', [], torn, how)
    t.equal(w.code, 1)
    t.same(await payloads('write', w), kept, `${how}: every whole line before the tear, and not the line it cut`)
    t.match(w.stderr, new RegExp(`^shoebox write: stdin: at byte ${torn.length}: bad-compression: gzip data is cut short .*the offset is in the compressed file; 1 file sealed \\(${kept.length} records\\) in .*, the last line it cut \\(\\d+ bytes?\\) not stored\\n$`))
    const e = await run('encode', [], torn, how)
    t.equal(e.code, 1)
    t.same(await payloads('encode', e), kept, `${how}: encode writes the same lines`)
    t.match(e.stderr, new RegExp(`^shoebox encode: stdin: at byte ${torn.length}: bad-compression: gzip data is cut short .* \\(${kept.length} records written before it; the last line it cut, \\d+ bytes?, not encoded\\)\\n$`))
  }
})

t.test('a damaged gzip member: the members before it are sealed, the line names the member\'s offset', async (t) => {
  const members = pieces(TEXT).map((p) => zlib.gzipSync(p))
  const second = Buffer.from(members[1])
  second[Math.floor(second.length / 2)] ^= 0xff
  const bytes = Buffer.concat([members[0], second, ...members.slice(2)])
  for (const command of ['write', 'encode'] as const) {
    const r = await run(command, [], bytes, 'file')
    t.equal(r.code, 1)
    const got = await payloads(command, r)
    // What the damaged member inflated to before its damage showed (at worst its CRC, at its end) may be other
    // bytes: gzip checks a member only at its end, as `gzip -dc` does (README).
    const first = wholeLinesBefore(TEXT.subarray(0, CUTS[0]))
    t.same(got.slice(0, first.length), first, `${command}: every line of the member before the damage`)
    t.ok(got.length < LINES.length - 1000, 'not the lines of the members after it')
    t.match(r.stderr, new RegExp(`^shoebox ${command}: stdin: at byte ${members[0].length}: bad-compression: .*gzip member.*\\n$`))
  }
})

t.test('a torn or damaged zstd frame: the frames before it are sealed, the line names the frame\'s offset', async (t) => {
  const frames = await zstdFrames(TEXT)
  const at = frames[0].length + frames[1].length
  const before = wholeLinesBefore(TEXT.subarray(0, CUTS[1]))
  const damaged = Buffer.from(frames[2])
  garbleZstdFrame(damaged, { start: 0 })
  for (const [what, bytes, detail] of [
    ['torn', Buffer.concat([frames[0], frames[1], frames[2].subarray(0, 40)]), `the frame at compressed byte ${at} is cut short`],
    ['damaged', Buffer.concat([frames[0], frames[1], damaged, frames[3], frames[4]]), `the frame at compressed byte ${at} is damaged`]
  ] as const) {
    for (const command of ['write', 'encode'] as const) {
      for (const how of [1000, 'file'] as const) {
        const r = await run(command, [], bytes, how)
        t.equal(r.code, 1, `${what} ${command} ${how}`)
        t.same(await payloads(command, r), before, `${what} ${command} ${how}: the whole lines of the frames before it`)
        t.match(r.stderr, new RegExp(`^shoebox ${command}: stdin: at byte ${at}: bad-compression: zstd data: ${detail}.*\\n$`))
        t.equal(r.stderr.split('\n').length, 2, 'one line')
      }
    }
  }
})

t.test('--validate and --meta-from-field read the decompressed lines', async (t) => {
  const text = Buffer.from('{"user":"ann","n":1}\n{"user":"bob","n":2}\n')
  const gz = zlib.gzipSync(text)
  const zst = await zstdFrame(text, 3)
  for (const [form, bytes] of [['gzip', gz], ['zstd', zst]] as const) {
    const e = await run('encode', ['--validate', '--meta-from-field', 'user'], bytes, 64)
    t.equal(e.code, 0, e.stderr)
    t.same((await decodeRecords(e.stdout)).map((r) => r.metadata.user), ['ann', 'bob'], `${form}: encode's metadata from each line`)
    const w = await run('write', ['--meta-from-field', 'who=user'], bytes, 'file')
    t.equal(w.code, 0, w.stderr)
    t.same(readDir(w.dir).records.map((r) => r.metadata.who), ['ann', 'bob'], `${form}: write's metadata from each line`)
  }
  const bad = zlib.gzipSync('{"a":1}\n{"a":\n{"a":3}\n')
  const v = await run('encode', ['--validate'], bad, 5)
  t.equal(v.code, 1)
  t.match(v.stderr, /^shoebox encode: stdin: line 2: .*\(1 record written before it\)\n$/, 'a bad line is named by its line in the text')
  const w = await run('write', ['--meta-from-field', 'a'], bad, 'file')
  t.equal(w.code, 1)
  t.match(w.stderr, /^shoebox write: stdin: line 2: .*1 file sealed \(1 record\)/)
})

t.test('text that merely starts like nothing compressed is untouched (no false sniff)', async (t) => {
  for (const [what, text] of [
    ['a line starting with (', Buffer.from('(not json) \u00b5\n{"a":1}\n')],
    ['a binary line near the gzip magic', Buffer.from([0x1f, 0x8c, 0x08, 0x0a, 0x7b, 0x7d, 0x0a])],
    ['a binary line near the zstd magic', Buffer.from([0x28, 0xb5, 0x2f, 0xfe, 0x01, 0x0a, 0x7b, 0x7d, 0x0a])],
    ['three bytes of the zstd magic', Buffer.from([0x28, 0xb5, 0x2f])],
    ['one byte of the gzip magic', Buffer.from([0x1f])]
  ] as const) {
    const lines: Buffer[] = []
    for (let from = 0; from < text.length;) {
      const end = text.indexOf(0x0a, from)
      lines.push(text.subarray(from, end < 0 ? text.length : end))
      from = end < 0 ? text.length : end + 1
    }
    for (const command of ['write', 'encode'] as const) {
      for (const how of [1, 'file'] as const) {
        const r = await run(command, [], text, how)
        t.equal(r.code, 0, `${what}, ${command}, ${how}: ${r.stderr}`)
        const records = command === 'write' ? readDir(r.dir).records : await decodeRecords(r.stdout)
        t.same(records.map((rec) => rec.payload.toString('hex')), lines.map((l) => l.toString('hex')), `${what}, ${command}, ${how}: the bytes as they were`)
      }
    }
  }
})

t.test('zstd input where this install has no zstd (SHOEBOX_ZSTD=0): SHOEBOX_UNSUPPORTED naming stdin, exit 1', async (t) => {
  const zst = await zstdFrame(TEXT, 3)
  withoutZstd(t)
  for (const command of ['write', 'encode'] as const) {
    for (const how of [65536, 'file'] as const) {
      const r = await run(command, [], zst, how)
      t.equal(r.code, 1)
      t.match(r.stderr, new RegExp(`^shoebox ${command}: stdin: zstd is not available in this install .*\\n$`), `${command}, ${how}`)
      t.same(await payloads(command, r), [], 'nothing stored')
      if (command === 'write' && how === 'file') t.notOk(fs.existsSync(r.dir), 'a file on stdin: refused before the directory is made')
    }
  }
  const gz = await run('write', [], zlib.gzipSync(TEXT), 'file')
  t.equal(gz.code, 0, 'gzip still works')
})

t.test('--max-frame-size bounds a zstd frame of the input read a frame at a time (SHOEBOX_ZSTD=package): one over it is refused unread, as damage at its offset', async (t) => {
  const zst = await zstdFrame(TEXT, 3)
  withZstdChoice(t, 'package')
  for (const command of ['write', 'encode'] as const) {
    const refused = await run(command, ['--max-frame-size', '64KiB'], zst, 'file')
    t.equal(refused.code, 1)
    t.match(refused.stderr, new RegExp(`^shoebox ${command}: stdin: at byte 0: bad-compression: zstd data: .*over maxFrameSize 65536; not decompressed.*\\n$`))
    t.same(await payloads(command, refused), [], 'nothing stored')
    const taken = await run(command, ['--max-frame-size', '1MiB'], zst, 4096)
    t.equal(taken.code, 0, taken.stderr)
    t.same(await payloads(command, taken), LINES)
  }
})

t.test('--max-frame-size is accepted and has nothing to bound where zstd input streams (SHOEBOX_ZSTD=libzstd): the frame is read whole', async (t) => {
  const zst = await zstdFrame(TEXT, 3)
  withZstdChoice(t, 'libzstd')
  for (const command of ['write', 'encode'] as const) {
    const r = await run(command, ['--max-frame-size', '64KiB'], zst, 'file')
    t.equal(r.code, 0, r.stderr)
    t.same(await payloads(command, r), LINES)
  }
})

t.test('encode --validate --on-invalid skip on a torn gzip input: the skipped lines listed, then the damage line saying what was written', async (t) => {
  // A gzip stream flushed and not finished (no last block, no trailer): its text ends inside the fourth line.
  const torn = zlib.gzipSync(Buffer.from('{"a":1}\nnot json\n{"a":3}\n{"a":4,"pad":"xx'), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  const r = await run('encode', ['--validate', '--on-invalid', 'skip'], torn, 100)
  t.equal(r.code, 1)
  t.same(await payloads('encode', r), ['{"a":1}', '{"a":3}'])
  t.match(r.stderr, /^shoebox encode: skipped stdin line 2: .*\nshoebox encode: stdin: at byte \d+: bad-compression: gzip data is cut short .*\(2 records written before it, 1 invalid line skipped; the last line it cut, 16 bytes, not encoded\)\n$/)
})
