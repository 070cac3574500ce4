/**
 * `shoebox pack` whose staging directory (in TMPDIR) cannot be written: a
 * preload makes its `.to` file fail as on a read-only mount (tests must not
 * mount). The line names the file and says nothing was uploaded; no staging
 * directory is left.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { runCli } from '../fixtures-roll/cli-child.js'
import { tempDir } from '../temp-dir.js'
import { transpiledOnce } from '../transpile.js'

const erofs = pathToFileURL(transpiledOnce(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)))).href

t.test('a read-only TMPDIR: one line naming the staging file, nothing uploaded, no staging directory left', async (t) => {
  const base = fs.realpathSync(tempDir(t))
  const src = path.join(base, 'src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n')
  const tmp = path.join(base, 'tmp')
  fs.mkdirSync(tmp)
  const store = path.join(base, 'store')
  fs.mkdirSync(store)
  const to = pathToFileURL(store).href
  const r = await runCli(t, cliBinary(), ['pack', src, '--to', to], '', {
    nodeArgs: ['--import', erofs], env: { TMPDIR: tmp, SHOEBOX_TEST_EROFS_FILES: '/\\.to$' }
  })
  // It said only "shoebox pack: read-only file system (EROFS)".
  t.match(r.stderr, new RegExp(`^shoebox pack: cannot write ${tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/shoebox-pack-[^/]+/\\.to in the staging directory \\(tmpDir, or TMPDIR\\): ` +
    `read-only file system \\(EROFS\\); nothing was uploaded to ${to.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`))
  t.equal(r.code, 1)
  t.same(fs.readdirSync(store), [], 'nothing uploaded')
  t.same(fs.readdirSync(tmp), [], 'no staging directory left')
})
