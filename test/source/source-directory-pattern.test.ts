/**
 * A directory named as the pattern (no wildcard) reads as the files directly
 * in it: `shoebox read logs` after `shoebox write logs`, `shoebox ls logs`,
 * `archiveSource('logs')`. Before, it matched only itself, and every such
 * read failed with "no archive matches logs".
 */
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import t from 'tap'
import { archiveSource, rollingSink, type ShoeboxRecord } from '../../lib/index.js'
import { cli } from '../cli-run.js'
import { tempDir } from '../temp-dir.js'

async function writeArchives (dir: string, payloads: unknown[]): Promise<void> {
  // Two files: a roll after every 2 records.
  await pipeline(Readable.from(payloads.map((payload) => ({ metadata: {}, payload }))), rollingSink({ dir, roll: { records: 2 } }))
}

async function readAll (pattern: string): Promise<ShoeboxRecord[]> {
  const out: ShoeboxRecord[] = []
  for await (const record of archiveSource(pattern)) out.push(record as ShoeboxRecord)
  return out
}

t.test('archiveSource(DIR) reads the archives in DIR, as DIR/* does, names relative to DIR', async (t) => {
  const tmp = tempDir(t)
  // A name with glob characters: the directory is taken as itself, not as a glob.
  const dir = path.join(tmp, 'logs [1] (a)')
  await writeArchives(dir, [1, 2, 3, 'ü'])
  t.equal(fs.readdirSync(dir).filter((n) => !n.startsWith('.')).length, 2, 'two archives written')
  const direct = await readAll(dir)
  t.same(direct.map((r) => String(r.payload)), ['1', '2', '3', 'ü'])
  t.same(await readAll(`${dir}/`), direct, 'with a trailing slash')
  t.same(await readAll(`file://${dir}`), direct, 'as a file:// URL')
  // A relative directory, resolved against the working directory.
  const cwd = process.cwd()
  process.chdir(tmp)
  t.teardown(() => { process.chdir(cwd) })
  t.same(await readAll('logs [1] (a)'), direct, 'relative')
})

t.test('shoebox read DIR and ls DIR after shoebox write DIR', async (t) => {
  const tmp = tempDir(t)
  const dir = path.join(tmp, 'events')
  const input = '{"n":1}\n{"n":2}\n{"n":3}\n'
  const written = await cli(['write', dir, '--roll-size', '40'], input)
  t.equal(written.code, 0, written.stderr)
  t.ok(fs.readdirSync(dir).filter((n) => !n.startsWith('.')).length > 1, 'more than one file sealed')
  const read = await cli(['read', dir, '--payload-only'])
  t.equal(read.code, 0, read.stderr)
  t.equal(String(read.stdout), input)
  const glob = await cli(['read', path.join(dir, '*'), '--positions'])
  const named = await cli(['read', dir, '--positions'])
  t.equal(String(named.stdout), String(glob.stdout), 'positions name the files as DIR/* does')
  t.match(String(named.stdout), /"file":"\d{8}T/, 'names relative to DIR')
  const listed = await cli(['ls', dir])
  t.equal(listed.code, 0, listed.stderr)
  t.equal(String(listed.stdout), String((await cli(['ls', path.join(dir, '*')])).stdout))
  t.match(String(listed.stdout), /3 records/)
})

t.test('a file in DIR that is no archive fails the read as it does for DIR/*, naming it', async (t) => {
  const tmp = tempDir(t)
  const dir = path.join(tmp, 'mixed')
  await writeArchives(dir, [1])
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an archive\n')
  const r = await cli(['read', dir])
  t.equal(r.code, 1)
  t.match(r.stderr, /notes\.txt/)
  t.equal(r.stderr.split('\n').filter(Boolean).length, 1, 'one line')
})

t.test('a pattern that names a file, or a wildcard, is unchanged', async (t) => {
  const tmp = tempDir(t)
  const dir = path.join(tmp, 'one')
  await writeArchives(dir, [7, 8])
  const file = fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort()[0]
  t.same((await readAll(path.join(dir, file))).map((r) => String(r.payload)), ['7', '8'])
  await t.rejects(readAll(path.join(tmp, '*')), { code: 'SHOEBOX_NOT_FOUND' }, 'tmp/* matches only the directory one, which is no archive')
})
