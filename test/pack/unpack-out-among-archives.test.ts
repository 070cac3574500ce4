/**
 * unpack into the directory its archives are read from (`shoebox unpack
 * backup --out backup`): the files restored were mixed with the archives,
 * and the next unpack of the same pattern read them as archives and failed
 * at the first ('truncated'). Refused before anything is read or written;
 * a directory beside or below the archives (out of the pattern's reach) is
 * still taken.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { pack } from '../../lib/pack/pack.js'
import { unpack } from '../../lib/pack/unpack.js'
import { cli } from '../cli-run.js'
import { tempDir } from '../temp-dir.js'

async function packed (root: string): Promise<string> {
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'a.txt'), 'a')
  fs.writeFileSync(path.join(src, 'b.txt'), 'b')
  const backup = path.join(root, 'backup')
  await pack(src, { to: backup })
  return backup
}

t.test('--out the directory the pattern stands for, or its own glob root, is refused; nothing is written', async (t) => {
  const root = tempDir(t)
  const backup = await packed(root)
  const archives = fs.readdirSync(backup)
  for (const [pattern, out] of [[backup, backup], [`${backup}/`, `${backup}/.`], [path.join(backup, '*'), backup], [path.join(backup, '**'), path.join(backup, 'restored')]]) {
    const r = await cli(['unpack', pattern, '--out', out])
    t.equal(r.code, 2, `${pattern} --out ${out}`)
    t.equal(r.stderr.split('\n')[0], `shoebox unpack: --out: ${out} is ${out.endsWith('restored') ? 'inside the directory' : 'the directory'} the archives are read from (${fs.realpathSync(backup)}): ` +
      'the files restored there would be read as archives by the next unpack of the same pattern; restore into another directory (nothing was restored)')
    t.same(fs.readdirSync(backup), archives, 'nothing restored among the archives')
  }
  await t.rejects(unpack(backup, { out: backup }), { code: 'SHOEBOX_INVALID_OPTION', option: 'out' })
  // Through a symbolic link to it.
  const link = path.join(root, 'link')
  fs.symlinkSync(backup, link)
  await t.rejects(unpack(backup, { out: link }), { code: 'SHOEBOX_INVALID_OPTION', option: 'out' })
  t.same(fs.readdirSync(backup), archives)
})

t.test('a directory below the archives that the pattern does not reach is taken', async (t) => {
  const root = tempDir(t)
  const backup = await packed(root)
  const out = path.join(backup, 'restored')
  const summary = await unpack(backup, { out })
  t.equal(summary.files, 2)
  t.equal(fs.readFileSync(path.join(out, 'a.txt'), 'utf8'), 'a')
  // And the next unpack of the same directory still reads only the archives.
  t.equal((await unpack(backup, { out: path.join(root, 'again') })).files, 2)
})
