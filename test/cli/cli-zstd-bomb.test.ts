/**
 * A decompression bomb through the CLI (issue 12): a 32 KB zstd frame of a
 * gigabyte of zeros is refused from its headers, never decompressed: decode
 * prints every record before it, then one error line, and exits 1; --lenient
 * skips it and goes on; read and verify refuse it too; --max-frame-size sets
 * the limit (and a bad one is a usage error).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cli } from '../cli-run.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-zstd-bomb-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const lines = (from: number, n: number): string => Array.from({ length: n }, (_, i) => JSON.stringify({ i: from + i, text: 'bömb' }) + '\n').join('')

/** `count` RLE blocks of 128 KiB of zeros as one frame without a content size: `count` x 128 KiB in 4 bytes each. */
function zeros (count: number): Buffer {
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3]), ...Array.from({ length: count }, (_, i) => {
    const block = Buffer.alloc(4)
    block.writeUIntLE(131072 << 3 | 1 << 1 | (i === count - 1 ? 1 : 0), 0, 3)
    return block
  })])
}

t.test('decode: the records before the bomb, one error line, exit 1; --lenient goes on after it', async (t) => {
  const before = await cli(['encode', '--zstd'], lines(0, 100))
  const after = await cli(['encode', '--zstd'], lines(100, 50))
  t.equal(before.code, 0)
  const bomb = zeros(8192)
  t.ok(bomb.length < 40000, `1 GiB in ${bomb.length} bytes`)
  const file = path.join(tmp, 'bomb.shoebox.zst')
  fs.writeFileSync(file, Buffer.concat([before.stdout, bomb, after.stdout]))

  const strict = await cli(['decode', '--payload-only', file])
  t.equal(strict.code, 1)
  t.equal(strict.stdout.toString(), lines(0, 100), 'every record before it')
  const errors = strict.stderr.trim().split('\n')
  t.equal(errors.length, 1, 'one line')
  t.match(errors[0], new RegExp(`bomb\\.shoebox\\.zst.*byte ${before.stdout.length}.*could hold at least 268566528 bytes \\(by the headers of its first 2049 blocks\\), over --max-frame-size 268435456.*--max-frame-size`))

  const lenient = await cli(['decode', '--payload-only', '--lenient', file])
  t.equal(lenient.code, 1)
  t.equal(lenient.stdout.toString(), lines(0, 100) + lines(100, 50), 'every record before and after it')
  t.match(lenient.stderr, new RegExp(`skipped ${bomb.length} damaged compressed bytes at compressed byte ${before.stdout.length}.*maxFrameSize`))

  const read = await cli(['read', '--payload-only', path.join(tmp, '*.zst')])
  t.equal(read.code, 1)
  t.equal(read.stdout.toString(), lines(0, 100))
  t.match(read.stderr, /over --max-frame-size 268435456/)

  const verify = await cli(['verify', file])
  t.equal(verify.code, 1)
  t.match(verify.stdout.toString(), /DAMAGED/)
  t.match(verify.stdout.toString() + verify.stderr, /over --max-frame-size 268435456/)
})

t.test('--max-frame-size sets the limit; a bad size is a usage error', async (t) => {
  const records = await cli(['encode', '--zstd'], lines(0, 10))
  const file = path.join(tmp, 'small.zst')
  // 1 MiB of zeros: no records, but whether it is decompressed shows in the error.
  fs.writeFileSync(file, Buffer.concat([records.stdout, zeros(8)]))
  const refused = await cli(['decode', '--max-frame-size', '512KiB', file])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /at least 655360 bytes \(by the headers of its first 5 blocks\), over --max-frame-size 524288/)
  const read = await cli(['decode', '--max-frame-size', '1MiB', file])
  t.equal(read.code, 1)
  t.notMatch(read.stderr, /maxFrameSize/, 'decompressed, and its zeros are damage of another kind')
  t.match(read.stderr, /bad-magic/)
  // In parseSize()'s words, as the API's maxFrameSize refuses them, naming the flag and quoting what was typed.
  for (const [bad, reason] of [
    ['0', 'must be at least 1 byte, got "0"'],
    ['lots', 'expected a size such as 100MiB, 10MB or 4096, got "lots"'],
    ['-1', 'expected a size such as 100MiB, 10MB or 4096, got "-1"'],
    // 1e23 to Number(): refused quoting what was typed, not 'got 1e+23'.
    ['99999999999999999999999', 'must be at most 9007199254740991 bytes, got "99999999999999999999999"']
  ]) {
    const r = await cli(['decode', `--max-frame-size=${bad}`, file])
    t.equal(r.code, 2, bad)
    t.equal(r.stderr, `shoebox decode: --max-frame-size: ${reason}\n(try 'shoebox decode --help')\n`, bad)
  }
})
