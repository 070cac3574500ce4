/**
 * `shoebox read --lenient` of a zstd archive with a damaged frame in the
 * middle (issue 12): every record of the frames after it is printed, and one
 * stderr line names the file and the frame's compressed offset and length;
 * strict stops there with one error line. `decode --lenient` says the same.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cli } from '../cli-run.js'
import { garbleZstdFrame } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-zstd-lenient-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const lines = (from: number, n: number): string => Array.from({ length: n }, (_, i) => JSON.stringify({ i: from + i, text: 'främe 📦' }) + '\n').join('')

t.test('read --lenient: frames 1, 2, 4 and 5 printed, one line for frame 3; strict: frames 1 and 2, one error line', async (t) => {
  // Five frames, one `encode --zstd` each (a small input is one frame).
  const frames: Buffer[] = []
  for (let f = 0; f < 5; f++) frames.push((await cli(['encode', '--zstd'], lines(f * 20, 20))).stdout)
  const bytes = Buffer.concat(frames)
  const third = frames[0].length + frames[1].length
  garbleZstdFrame(bytes, { start: third })
  const file = path.join(tmp, 'a.shoebox.zst')
  fs.writeFileSync(file, bytes)

  const lenient = await cli(['read', '--lenient', '--payload-only', file])
  t.equal(lenient.stdout.toString(), lines(0, 40) + lines(60, 40), 'every record of the good frames')
  t.match(lenient.stderr, new RegExp(`^shoebox read: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: skipped ${frames[2].length} damaged compressed bytes at compressed byte ${third} \\(bad-compression: .*skipped to the next frame\\)\\n$`))
  t.equal(lenient.code, 1)

  const decoded = await cli(['decode', '--lenient', '--payload-only', file])
  t.equal(decoded.stdout.toString(), lenient.stdout.toString(), 'decode --lenient: the same records')
  t.match(decoded.stderr, `shoebox decode: ${file}: skipped ${frames[2].length} damaged compressed bytes at compressed byte ${third} `)

  const strict = await cli(['read', '--payload-only', file])
  t.equal(strict.stdout.toString(), lines(0, 40), 'strict: the records before the damage')
  t.match(strict.stderr, `${file}: at byte ${third}: bad-compression`)
  t.equal(strict.stderr.split('\n').length, 2, 'one line')
  t.equal(strict.code, 1)
})
