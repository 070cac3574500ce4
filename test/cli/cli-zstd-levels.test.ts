/**
 * Issue 12's level boundaries end to end: zstd's lowest and highest levels
 * (-131072 and 22) and gzip's (1 and 9) round trip through encode, write
 * and pack, and through rollingSink's `compress`; one past each is refused
 * as a usage error before anything is created. And `--compress gzip|zstd|none`
 * on write and pack (not only encode): the codec and the file names follow.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import t from 'tap'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL } from '../../lib/compress/zstd.js'
import { naturalCompare, rollingSink } from '../../lib/index.js'
import { cli } from '../cli-run.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-levels-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const LINES = Array.from({ length: 500 }, (_, i) => JSON.stringify({ i, text: `ünïcode ${'✓'.repeat(i % 7)}` }))
const INPUT = LINES.join('\n') + '\n'

function sealed (dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort(naturalCompare).map((n) => path.join(dir, n))
}

const BOUNDARIES: Array<[string, string]> = [
  ['zstd', `--zstd=${ZSTD_MIN_LEVEL}`], ['zstd', '--zstd=-1'], ['zstd', '--zstd=1'], ['zstd', `--zstd=${ZSTD_MAX_LEVEL}`],
  ['gzip', '--gzip=1'], ['gzip', '--gzip=9']
]

t.test('encode at every level boundary: the codec\'s bytes, and decode gives the input back', async (t) => {
  for (const [codec, flag] of BOUNDARIES) {
    const encoded = await cli(['encode', flag], INPUT)
    t.equal(encoded.code, 0, `${flag}: ${encoded.stderr}`)
    if (codec === 'zstd') t.equal(walkFrames(encoded.stdout).problem, null, `${flag}: whole zstd frames`)
    else t.same([...encoded.stdout.subarray(0, 2)], [0x1f, 0x8b], `${flag}: gzip`)
    const file = path.join(tmp, `enc${flag.replace(/\W/g, '_')}.shoebox`)
    fs.writeFileSync(file, encoded.stdout)
    t.equal((await cli(['decode', '--payload-only', file])).stdout.toString(), INPUT, `${flag} round trip`)
  }
})

t.test('write and pack at the lowest and highest levels: read back whole, verify names the codec', async (t) => {
  const tree = path.join(tmp, 'tree')
  fs.mkdirSync(tree)
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(tree, `f${i}.ndjson`), LINES.slice(i * 100, i * 100 + 100).join('\n'))
  for (const [codec, flag] of BOUNDARIES) {
    const dir = path.join(tmp, `w${flag.replace(/\W/g, '_')}`)
    const written = await cli(['write', dir, flag, '--roll-records', '200'], INPUT)
    t.equal(written.code, 0, `write ${flag}: ${written.stderr}`)
    const files = sealed(dir)
    t.ok(files.length === 3 && files.every((f) => f.endsWith(codec === 'zstd' ? '.shoebox.zst' : '.shoebox.gz')), `write ${flag}: ${files.map((f) => path.basename(f)).join(' ')}`)
    t.equal((await cli(['decode', '--payload-only', ...files])).stdout.toString(), INPUT, `write ${flag} round trip`)
    t.match((await cli(['verify', ...files])).stdout.toString(), new RegExp(`OK: 200 records .*, ${codec}\\n`))
    const out = path.join(tmp, `p${flag.replace(/\W/g, '_')}`)
    const packed = await cli(['pack', tree, '--to', out, flag])
    t.equal(packed.code, 0, `pack ${flag}: ${packed.stderr}`)
    const restored = path.join(tmp, `r${flag.replace(/\W/g, '_')}`)
    t.equal((await cli(['unpack', path.join(out, '*'), '--out', restored])).code, 0)
    for (let i = 0; i < 5; i++) t.equal(fs.readFileSync(path.join(restored, `f${i}.ndjson`), 'utf8'), LINES.slice(i * 100, i * 100 + 100).join('\n'))
  }
})

t.test('one past each boundary is a usage error on encode, write and pack; nothing created', async (t) => {
  for (const flag of [`--zstd=${ZSTD_MIN_LEVEL - 1}`, `--zstd=${ZSTD_MAX_LEVEL + 1}`, '--zstd=0', '--gzip=0', '--gzip=10']) {
    for (const command of [['encode'], ['write', path.join(tmp, 'never')], ['pack', tmp, '--to', path.join(tmp, 'never-packed')]]) {
      const r = await cli([...command, flag], INPUT)
      t.equal(r.code, 2, `${command[0]} ${flag}`)
      t.match(r.stderr, /level/, `${command[0]} ${flag}: names the level`)
    }
  }
  t.notOk(fs.existsSync(path.join(tmp, 'never')))
  t.notOk(fs.existsSync(path.join(tmp, 'never-packed')))
})

t.test('--compress gzip|zstd|none on write and pack: the codec and the names follow', async (t) => {
  const tree = path.join(tmp, 'tree2')
  fs.mkdirSync(tree)
  fs.writeFileSync(path.join(tree, 'one.txt'), 'one ✓')
  for (const [codec, suffix] of [['zstd', '.shoebox.zst'], ['gzip', '.shoebox.gz'], ['none', '.shoebox']]) {
    const dir = path.join(tmp, `c-${codec}`)
    t.equal((await cli(['write', dir, '--compress', codec], INPUT)).code, 0)
    const files = sealed(dir)
    t.ok(files.length === 1 && files[0].endsWith(suffix) && (codec === 'none' || !files[0].endsWith('.shoebox.zst.gz')), `write --compress ${codec}: ${path.basename(files[0])}`)
    const verify = (await cli(['verify', ...files])).stdout.toString()
    t.match(verify, codec === 'none' ? /OK: 500 records \(v1 0, v2 500\), \d+ bytes\n$/ : new RegExp(`, ${codec}\\n`))
    t.equal((await cli(['decode', '--payload-only', ...files])).stdout.toString(), INPUT)
    const out = path.join(tmp, `pc-${codec}`)
    t.equal((await cli(['pack', tree, '--to', out, '--compress', codec])).code, 0)
    t.ok(sealed(out).every((f) => f.endsWith(suffix)), `pack --compress ${codec}: ${sealed(out).map((f) => path.basename(f)).join(' ')}`)
  }
})

t.test('rollingSink compress { codec: zstd, level } at both ends of the range', async (t) => {
  for (const level of [ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL]) {
    const dir = path.join(tmp, `sink${level}`)
    const sink = rollingSink({ dir, compress: { codec: 'zstd', level } })
    await pipeline(Readable.from(LINES.map((line, i) => ({ metadata: { i: String(i) }, payload: line }))), sink)
    const files = sealed(dir)
    t.ok(files.length === 1 && files[0].endsWith('.shoebox.zst'))
    t.equal((await cli(['decode', '--payload-only', ...files])).stdout.toString(), INPUT, `level ${level}`)
  }
  t.throws(() => rollingSink({ dir: path.join(tmp, 'no'), compress: { codec: 'zstd', level: ZSTD_MIN_LEVEL - 1 } }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => rollingSink({ dir: path.join(tmp, 'no'), compress: { codec: 'zstd', level: ZSTD_MAX_LEVEL + 1 } }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.notOk(fs.existsSync(path.join(tmp, 'no')))
})
