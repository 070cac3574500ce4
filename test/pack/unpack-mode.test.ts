/**
 * unpack() and the modes an archive holds: the process umask is taken from
 * them, as tar does for a user other than root (fchmod alone ignores it, and a
 * stranger's 0777 file came out world-writable), and setuid, setgid and sticky
 * bits are never restored. Through the library and the CLI, under umask 022
 * and 077.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { encodeRecords, type RecordInput } from '../../lib/index.js'
import { unpack } from '../../lib/pack/unpack.js'
import { cli } from '../cli-run.js'
import { tempDir } from '../temp-dir.js'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

function packRecord (rel: string, mode: string): RecordInput {
  const bytes = Buffer.from(`file ${rel}`)
  return {
    metadata: [['path', rel], ['size', String(bytes.length)], ['mtime', '2020-02-02T02:02:02.002Z'], ['mode', mode], ['sha256', sha256(bytes)]],
    payload: bytes
  }
}

const ENTRIES: Array<[string, string]> = [
  ['open', '0777'], ['setuid', '4755'], ['setgid', '2775'], ['sticky', '1777'], ['plain', '0644'], ['private', '0600']
]

/** What each entry must be restored as, under each umask. */
const EXPECTED: Record<number, Record<string, number>> = {
  0o022: { open: 0o755, setuid: 0o755, setgid: 0o755, sticky: 0o755, plain: 0o644, private: 0o600 },
  0o077: { open: 0o700, setuid: 0o700, setgid: 0o700, sticky: 0o700, plain: 0o600, private: 0o600 }
}

function modes (dir: string): Record<string, number> {
  const got: Record<string, number> = {}
  for (const [name] of ENTRIES) got[name] = fs.statSync(path.join(dir, name)).mode & 0o7777
  return got
}

const octal = (m: Record<string, number>): Record<string, string> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.toString(8)]))

for (const mask of [0o022, 0o077]) {
  for (const via of ['unpack()', 'shoebox unpack']) {
    t.test(`${via} under umask ${mask.toString(8).padStart(3, '0')}: the umask is taken from the archived modes, setuid/setgid/sticky are dropped`, async (t) => {
      const base = tempDir(t)
      const archive = path.join(base, 'archives', 'a.shoebox')
      fs.mkdirSync(path.dirname(archive))
      fs.writeFileSync(archive, encodeRecords(ENTRIES.map(([name, mode]) => packRecord(name, mode))))
      const out = path.join(base, 'out')
      const before = process.umask(mask)
      t.teardown(() => { process.umask(before) })
      if (via === 'unpack()') {
        await unpack(path.join(base, 'archives', '*.shoebox'), { out })
      } else {
        const r = await cli(['unpack', path.join(base, 'archives', '*.shoebox'), '--out', out])
        t.equal(r.code, 0, r.stderr)
      }
      t.same(octal(modes(out)), octal(EXPECTED[mask]), 'modes as archived, less the umask and the special bits')
      t.equal(process.umask(), mask, 'the umask is as it was')
    })
  }
}
