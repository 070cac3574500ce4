/**
 * The addon's readSmallFiles() (native/small_files.c) given what its caller
 * (lib/store/whole-batch.ts) never gives it: a path whose UTF-8 is cut by
 * the one-call conversion inside a character, and a paths array whose
 * getter detaches the `expected` sizes. Each reads another file or freed
 * memory if the addon trusts what it got before.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { tempDir } from '../temp-dir.js'
import { SMALL_FILE_STRIDE, SmallFileOutcome, loadNativeFiles } from '../../lib/native.js'

const native = loadNativeFiles({})
const tmp = tempDir(t, 'shoebox-small-hostile-')

t.test('a path of 4,097 UTF-8 bytes ending in a 3-byte character is not read as its first 4,094', async (t) => {
  if (native === null) return
  // Directories to 4,094 bytes with a file there: the path asked for is that file's name and '€' more.
  let dir = tmp
  // The file's own name within NAME_MAX (255 bytes) wherever the temporary directory is: 40 to 240 bytes.
  while (4094 - Buffer.byteLength(dir) - 1 > 240) dir = path.join(dir, 'd'.repeat(200))
  fs.mkdirSync(dir, { recursive: true })
  const prefix = path.join(dir, 'f'.repeat(4094 - Buffer.byteLength(dir) - 1))
  t.equal(Buffer.byteLength(prefix), 4094)
  fs.writeFileSync(prefix, 'the wrong file')
  const asked = prefix + '€'
  t.equal(Buffer.byteLength(asked), 4097)
  const { results } = await native.readSmallFiles([asked, prefix], Float64Array.from([-1, -1]), 64)
  t.same(Array.from(results.subarray(0, 3)), [SmallFileOutcome.failed, os.constants.errno.ENAMETOOLONG, 1], 'too long for open, as node:fs says')
  t.equal(results[SMALL_FILE_STRIDE], SmallFileOutcome.read, 'the shorter one is there')
  // 4,093 bytes and '€' (4,096: over PATH_MAX with its NUL) is too long as well, not the missing 4,093-byte name.
  const shorter = prefix.slice(0, -1) + '€'
  const again = await native.readSmallFiles([shorter], Float64Array.from([-1]), 64)
  t.same(Array.from(again.results.subarray(0, 3)), [SmallFileOutcome.failed, os.constants.errno.ENAMETOOLONG, 1])
})

t.test('a getter on the paths that detaches `expected` gets a RangeError, not a read of freed memory', async (t) => {
  if (native === null) return
  const file = path.join(tmp, 'a')
  fs.writeFileSync(file, 'alpha')
  const expected = new Float64Array(3).fill(5)
  const paths: string[] = [file, file, file]
  Object.defineProperty(paths, 1, {
    get () {
      structuredClone(expected.buffer, { transfer: [expected.buffer] })
      return file
    }
  })
  t.throws(() => { void native.readSmallFiles(paths, expected, 64) }, RangeError)
  t.equal(expected.length, 0, 'detached by the getter')
  // The same call with nothing detached reads them all.
  const sizes = Float64Array.from([5, 5, 5])
  const { results } = await native.readSmallFiles([file, file, file], sizes, 64)
  t.same([0, 1, 2].map((i) => results[i * SMALL_FILE_STRIDE]), [SmallFileOutcome.read, SmallFileOutcome.read, SmallFileOutcome.read])
})
