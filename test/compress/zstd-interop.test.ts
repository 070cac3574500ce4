/**
 * zstd that shoebox did not write, made here by the `zstd` command, through
 * every backend that loads (SHOEBOX_ZSTD=libzstd and package on Node 20;
 * zlib from Node 22.15): text input (decompressedInput(), what `write`,
 * `encode` and `ship` read) and the archive reader (zstdDecompress()). A
 * frame refused by its header alone is refused alike whatever the backend
 * and wherever the chunks fall, in the same words, after the content
 * before it: one that needs a dictionary (`zstd -D`) is SHOEBOX_UNSUPPORTED
 * naming the input and the dictionary's id; a window over 128 MiB (`zstd
 * --long=31` from a pipe) names its size and the flag that reads it; bytes
 * after the last frame that are no frame (garbage, a gzip member) say what
 * they begin with. The libzstd streaming decoder said "Dictionary
 * mismatch" and "Unknown frame descriptor", calling the frame damaged. An
 * archive's frame whose header asks for a 2 GiB window is read by every
 * backend (the package refused it). And the other way: what shoebox
 * compresses, the `zstd` command tests and reads, and a position's frame
 * offset is where zstd finds the record.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import t from 'tap'
import { decompressedInput } from '../../lib/compress/decompressed-input.js'
import { gzip } from '../../lib/compress/gzip.js'
import { loadZstd, zstd } from '../../lib/compress/zstd.js'
import { zstdDecompress } from '../../lib/compress/zstd-decompress.js'
import { zlibMayHaveZstd, type ZstdChoice } from '../../lib/compress/zstd-loader.js'
import { ShoeboxError } from '../../lib/errors.js'
import { decode } from '../../lib/format/decode.js'
import { encodeRecords } from '../../lib/format/encoder.js'
import type { ShoeboxRecord } from '../../lib/record.js'
import { chunked, haveZstdCommand, seededText } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

if (!haveZstdCommand) {
  t.pass('skipped: these tests read what the `zstd` command writes, and it is not on PATH')
  process.exit(0)
}

const MiB = 1024 * 1024
const dir = tempDir(t, 'zstd-interop-')
const text = seededText(5).lines(400_000)
const before = seededText(6).lines(50_000)

function zstdC (input: Buffer, ...flags: string[]): Buffer {
  return execFileSync('zstd', ['-c', '-q', ...flags], { input, maxBuffer: 64 * MiB })
}

// A trained dictionary with a known id: frames written with it carry the id in their header.
const DICTIONARY_ID = 4242
const samples = path.join(dir, 'samples')
fs.mkdirSync(samples)
for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(samples, `s${i}`), seededText(100 + i).lines(2000))
execFileSync('zstd', ['-q', '--train', '-r', samples, '-o', path.join(dir, 'dict'), '--maxdict=8192', `--dictID=${DICTIONARY_ID}`], { stdio: 'ignore' })
const withDictionary = zstdC(text, '-D', path.join(dir, 'dict'))
const first = zstdC(before)

/** Each case: its input, and what the reader of it gives before its one failure. */
const cases: Array<{ name: string, input: Buffer, code: string, message: RegExp }> = [
  {
    name: 'a frame that needs a dictionary',
    input: Buffer.concat([first, withDictionary]),
    code: 'SHOEBOX_UNSUPPORTED',
    message: new RegExp(`^in\\.zst: at byte ${first.length}: unsupported: zstd data: the frame at compressed byte ${first.length} needs zstd dictionary ${DICTIONARY_ID}, which shoebox does not read \\(\`zstd -d -D DICTIONARY\` does\\)`)
  },
  {
    // From a pipe, so the header keeps the window zstd was asked for (a file's size shrinks it).
    name: 'zstd --long=31 from a pipe',
    input: Buffer.concat([first, zstdC(text, '--long=31')]),
    code: 'SHOEBOX_BAD_COMPRESSION',
    message: new RegExp(`the frame at compressed byte ${first.length} needs a window of 2 GiB, over the 128 MiB shoebox decodes \\(as \`zstd -d\` without --memory\\); not decompressed: \`zstd -d --long=31\` reads it`)
  },
  {
    name: 'trailing garbage',
    input: Buffer.concat([first, Buffer.from('garbage\n')]),
    code: 'SHOEBOX_BAD_COMPRESSION',
    message: new RegExp(`at byte ${first.length}: bad-compression: zstd data: no zstd frame starts here \\(its first bytes are 67 61 72 62\\); the offset`)
  },
  {
    name: 'zstd then gzip',
    input: Buffer.concat([first, zlib.gzipSync(text)]),
    code: 'SHOEBOX_BAD_COMPRESSION',
    message: /no zstd frame starts here \(its first bytes are 1f 8b 08 00: a gzip member; shoebox reads an input as one codec, `zstd -dc` reads both\)/
  }
]

t.test('the zstd command reads what the cases hold up to their failure, as the tests expect', async (t) => {
  t.ok(execFileSync('zstd', ['-dc', '-q', '-D', path.join(dir, 'dict')], { input: withDictionary, maxBuffer: 64 * MiB }).equals(text), 'zstd -d -D reads the dictionary frame')
  const descriptor = withDictionary[4]
  const idSize = [0, 1, 2, 4][descriptor & 3]
  t.equal(withDictionary.readUIntLE((descriptor & 0x20) !== 0 ? 5 : 6, idSize), DICTIONARY_ID, 'its header names the dictionary')
})

const backends: Array<{ choice: ZstdChoice, why?: string }> = [
  { choice: 'libzstd' },
  { choice: 'package' },
  { choice: 'zlib', why: zlibMayHaveZstd() ? undefined : `node:zlib has zstd from Node 22.15; this is ${process.versions.node}` }
]

/** Every backend's message per case and input path, to compare across backends. */
const said = new Map<string, Map<string, string>>()

for (const { choice, why } of backends) {
  t.test(`SHOEBOX_ZSTD=${choice}`, async (t) => {
    if (why !== undefined) {
      t.pass(`skipped: ${why}`)
      return
    }
    if (await loadZstd(choice) === null) {
      t.pass(`skipped: the ${choice} backend does not load in this install`)
      return
    }
    const previous = process.env.SHOEBOX_ZSTD
    process.env.SHOEBOX_ZSTD = choice
    t.teardown(() => {
      if (previous === undefined) delete process.env.SHOEBOX_ZSTD
      else process.env.SHOEBOX_ZSTD = previous
    })
    for (const c of cases) {
      for (const size of [1, 7, 4096, c.input.length]) {
        const input = await decompressedInput(Readable.from(chunked(c.input, size)), 'in.zst')
        const out: Buffer[] = []
        for await (const chunk of input.stream) out.push(chunk as Buffer)
        t.ok(Buffer.concat(out).equals(before), `${c.name}, text input in chunks of ${size}: the frame before it, whole`)
        t.ok(input.failure instanceof ShoeboxError, `${c.name}, chunks of ${size}: failed`)
        t.match(input.failure, { code: c.code, message: c.message }, `${c.name}, text input in chunks of ${size}`)
        remember(`${c.name}: text input`, choice, input.failure?.message)
      }
      // The archive reader, strict: the same refusal, the same code.
      const out: Buffer[] = []
      const stage = zstdDecompress({ file: 'in.zst', backend: choice })
      const failure = await pipeline(Readable.from(chunked(c.input, 4096)), stage, new Writable({ write (chunk: Buffer, _e, cb) { out.push(chunk); cb() } })).then(() => null, (err: unknown) => err)
      if (c.name.startsWith('zstd --long')) {
        // An archive's frame is held whole, bounded by maxFrameSize: read by every backend (the package and
        // node:zlib refused the window its header asks for, which the libzstd backend's one pass never needs).
        t.equal(failure, null, `${c.name}, archive reader: read`)
        t.ok(Buffer.concat(out).equals(Buffer.concat([before, text])), `${c.name}, archive reader: every byte`)
        remember(`${c.name}: archive`, choice, String(failure))
        continue
      }
      t.ok(Buffer.concat(out).equals(before), `${c.name}, archive reader: the frame before it`)
      t.match(failure, { code: c.code, offset: first.length, message: new RegExp(c.message.source.replace(/^\^in\\.zst: at byte \d+: \w+: /, '')) }, `${c.name}, archive reader`)
      remember(`${c.name}: archive`, choice, (failure as Error | null)?.message)
    }
  })
}

function remember (what: string, choice: string, message: string | undefined): void {
  const byBackend = said.get(what) ?? new Map<string, string>()
  said.set(what, byBackend.set(choice, message ?? '(none)'))
}

t.test('an archive shoebox compresses: zstd -t passes, zstd -dc gives the plain archive, each position\'s frame read from its offset by zstd holds the record `skip` bytes in', async (t) => {
  const plain = encodeRecords(Array.from({ length: 3000 }, (_, i) => ({ metadata: { i: String(i) }, payload: seededText(i).lines(200) })))
  const frames: Buffer[] = []
  await pipeline(Readable.from(chunked(plain, 100_000)), zstd(), new Writable({ write (chunk: Buffer, _e, cb) { frames.push(chunk); cb() } }))
  const file = Buffer.concat(frames)
  t.ok(frames.length > 5, `${frames.length} frames`)
  execFileSync('zstd', ['-t', '-q'], { input: file })
  t.ok(execFileSync('zstd', ['-dc', '-q'], { input: file, maxBuffer: 64 * MiB }).equals(plain), 'zstd -dc: the plain archive, byte for byte')
  const stage = zstdDecompress({ file: 'a.shoebox.zst' })
  const positions: Array<{ offset: number, member: { offset: number, skip: number } }> = []
  await pipeline(Readable.from([file]), stage, decode({ positions: true, members: stage.members }), async (records: AsyncIterable<ShoeboxRecord>) => {
    for await (const r of records) positions.push(r.position as typeof positions[0])
  })
  t.equal(positions.length, 3000)
  for (let i = 0; i < positions.length; i += 250) {
    const { offset, member } = positions[i]
    const end = i + 1 < positions.length ? positions[i + 1].offset : plain.length
    const fromFrame = execFileSync('zstd', ['-dc', '-q'], { input: file.subarray(member.offset), maxBuffer: 64 * MiB })
    t.ok(fromFrame.subarray(member.skip, member.skip + end - offset).equals(plain.subarray(offset, end)), `record ${i}: \`tail -c +${member.offset + 1} | zstd -dc\`, ${member.skip} bytes in`)
  }
})

t.test('no input: zstd() writes one empty frame, which the zstd command reads as nothing (0 bytes was "unexpected end of file"), as gzip() writes an empty member', async (t) => {
  for (const chunks of [[], [Buffer.alloc(0)], [Buffer.alloc(0), Buffer.alloc(0)]]) {
    const out: Buffer[] = []
    await pipeline(Readable.from(chunks), zstd(), new Writable({ write (chunk: Buffer, _e, cb) { out.push(chunk); cb() } }))
    t.equal(out.length, 1, `${chunks.length} empty chunks: one frame`)
    const file = Buffer.concat(out)
    execFileSync('zstd', ['-t', '-q'], { input: file })
    t.equal(execFileSync('zstd', ['-dc', '-q'], { input: file }).length, 0, `${chunks.length} empty chunks: zstd -dc reads no content`)
    const back: Buffer[] = []
    await pipeline(Readable.from([file]), zstdDecompress(), new Writable({ write (chunk: Buffer, _e, cb) { back.push(chunk); cb() } }))
    t.equal(Buffer.concat(back).length, 0, 'zstdDecompress() reads no content')
  }
  // An empty chunk among others makes no frame of its own.
  const out: Buffer[] = []
  await pipeline(Readable.from([Buffer.from('a'), Buffer.alloc(0), Buffer.from('b')]), zstd(), new Writable({ write (chunk: Buffer, _e, cb) { out.push(chunk); cb() } }))
  t.equal(out.length, 2, 'two frames for the two chunks with bytes')
  t.equal(execFileSync('zstd', ['-dc', '-q'], { input: Buffer.concat(out) }).toString(), 'ab')
  const gz: Buffer[] = []
  await pipeline(Readable.from([]), gzip(), new Writable({ write (chunk: Buffer, _e, cb) { gz.push(chunk); cb() } }))
  t.equal(zlib.gunzipSync(Buffer.concat(gz)).length, 0, 'gzip(): an empty member, which zlib reads')
})

t.test('every backend says the same of the same input', async (t) => {
  for (const [what, byBackend] of said) {
    t.equal(new Set(byBackend.values()).size, 1, `${what}: ${[...byBackend.keys()].join(', ')} alike`)
  }
})
