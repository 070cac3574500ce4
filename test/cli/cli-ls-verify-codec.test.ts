/**
 * `shoebox ls` and `shoebox verify` show each archive's codec: plain, gzip
 * and zstd archives written by `shoebox write` into one directory, a zstd
 * archive under a plain name (the codec comes from the magic bytes, not the
 * name), a damaged zstd file, and stdin.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { naturalCompare } from '../../lib/index.js'
import { cli } from '../cli-run.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-codec-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const LINES = Array.from({ length: 600 }, (_, i) => JSON.stringify({ i, text: 'grüße 📦 '.repeat(1 + (i % 5)) }))
const INPUT = LINES.join('\n') + '\n'

/** The sealed archives of `dir`, in name order (not the uploader's or writer's dot-files). */
function sealed (dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort(naturalCompare)
}

/** ls's lines as [name, records, codec, damage mark] (the total line left out). */
function lsRows (stdout: Buffer): Array<[string, string, string, string]> {
  const lines = stdout.toString().trimEnd().split('\n')
  return lines.slice(0, -1).map((line) => {
    const cols = line.split('\t')
    const mark = / {2}DAMAGED \((.*)\)$/.exec(cols[5])?.[1] ?? ''
    return [cols[0], cols[1], cols[3], mark]
  })
}

t.test('ls and verify name the codec of plain, gzip and zstd archives in one directory', async (t) => {
  const dir = path.join(tmp, 'mixed')
  const codecOf: Record<string, string> = {}
  for (const [flags, codec] of [[[], 'plain'], [['--gzip'], 'gzip'], [['--zstd'], 'zstd'], [['--zstd=1'], 'zstd'], [['--compress', 'gzip'], 'gzip']] as const) {
    const before = new Set(fs.existsSync(dir) ? sealed(dir) : [])
    const r = await cli(['write', dir, ...flags, '--roll-records', '400'], INPUT)
    t.equal(r.code, 0, r.stderr)
    const added = sealed(dir).filter((n) => !before.has(n))
    t.equal(added.length, 2, `${flags.join(' ')}: 600 records in files of 400`)
    for (const name of added) codecOf[name] = codec
  }
  // A zstd archive named like a plain one: the column follows the bytes.
  const disguised = sealed(dir).find((n) => codecOf[n] === 'zstd') as string
  fs.copyFileSync(path.join(dir, disguised), path.join(dir, 'zz-disguised.shoebox'))
  codecOf['zz-disguised.shoebox'] = 'zstd'

  const ls = await cli(['ls', `${dir}/*`])
  t.equal(ls.code, 0, ls.stderr)
  const rows = lsRows(ls.stdout)
  t.same(rows.map(([name, , codec]) => [name, codec]).sort(), Object.entries(codecOf).sort(), 'one row per file, with its codec')
  t.same(new Set(rows.map(([, records]) => records)), new Set(['400 records', '200 records']))
  t.same(new Set(Object.values(codecOf)), new Set(['plain', 'gzip', 'zstd']), 'all three codecs are in the directory')
  t.match(ls.stdout.toString(), /\n11 files, 3400 records, \d+ bytes, /, 'five writes of 600 records, and a copy of a first file of 400')

  const names = Object.keys(codecOf).sort()
  const verify = await cli(['verify', ...names.map((n) => path.join(dir, n))])
  t.equal(verify.code, 0, verify.stderr)
  const lines = verify.stdout.toString().trimEnd().split('\n')
  t.equal(lines.length, names.length)
  for (const [i, name] of names.entries()) {
    // verify names a compressed file's codec after its byte count, and none for a plain file.
    const shown = /, \d+ bytes(, (gzip|zstd))?$/.exec(lines[i])
    t.ok(shown, lines[i])
    t.equal(shown?.[2] ?? 'plain', codecOf[name], `${name}: ${lines[i]}`)
    t.ok(lines[i].startsWith(`${path.join(dir, name)}: OK: `), lines[i])
  }
})

t.test('a damaged zstd archive: ls marks it with its codec and offset; verify says zstd and where', async (t) => {
  const dir = path.join(tmp, 'damaged')
  const w = await cli(['write', dir, '--zstd', '--flush-interval', '0'], INPUT.repeat(40))
  t.equal(w.code, 0, w.stderr)
  const [name] = sealed(dir)
  const file = path.join(dir, name)
  const bytes = fs.readFileSync(file)
  const frames = walkFrames(bytes)
  t.equal(frames.problem, null)
  t.ok(frames.frames.length >= 2, `${frames.frames.length} frames`)
  // Garble 30 bytes of the second frame's compressed block, past its header.
  const bad = frames.frames[1]
  for (let i = bad.start + 30; i < bad.start + 60; i++) bytes[i] ^= 0xff
  fs.writeFileSync(file, bytes)

  const ls = await cli(['ls', `${dir}/*`])
  t.equal(ls.code, 1, 'a damaged file makes ls exit 1')
  const [[, , codec, mark]] = lsRows(ls.stdout)
  t.equal(codec, 'zstd')
  t.equal(mark, `zstd damaged at compressed byte ${bad.start}`)

  const verify = await cli(['verify', file])
  t.equal(verify.code, 1)
  t.match(verify.stdout.toString(), `${file}: DAMAGED: `)
  t.match(verify.stdout.toString(), `, zstd readable, `)
  t.match(verify.stdout.toString(), `${file}:   at compressed byte ${bad.start}: bad-compression: `)
})

t.test('verify shows the codec of archives on stdin', async (t) => {
  for (const [flags, suffix] of [[[], ''], [['--gzip'], ', gzip'], [['--zstd'], ', zstd']] as const) {
    const encoded = await cli(['encode', ...flags], INPUT)
    t.equal(encoded.code, 0)
    const verify = await cli(['verify', '-'], encoded.stdout)
    t.equal(verify.code, 0, verify.stderr)
    t.match(verify.stdout.toString(), new RegExp(`^stdin: OK: 600 records \\(v1 0, v2 600\\), \\d+ bytes${suffix}\\n$`), flags.join(' ') || 'plain')
  }
})

t.test('ls --max-frame-size under a frame\'s size: the mark says the frame is over the limit and how to read it, not that the zstd is damaged', async (t) => {
  const dir = path.join(tmp, 'over-limit')
  fs.mkdirSync(dir)
  const file = path.join(dir, 'a.shoebox.zst')
  const encoded = await cli(['encode', '--zstd'], INPUT.repeat(4))
  t.equal(encoded.code, 0, encoded.stderr)
  fs.writeFileSync(file, encoded.stdout)
  t.equal((await cli(['ls', `${dir}/*`])).code, 0, 'reads within the default limit')
  const ls = await cli(['ls', `${dir}/*`, '--max-frame-size', '64KiB'])
  t.equal(ls.code, 1, 'not read: exit 1')
  const [[, records, codec, mark]] = lsRows(ls.stdout)
  t.equal(records, '0 records')
  t.equal(codec, 'zstd')
  t.equal(mark, 'zstd frame at compressed byte 0 over --max-frame-size (65536 bytes): not read, raise it to read the file')
})
