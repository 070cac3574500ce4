/**
 * package.json's allowScripts names every dependency whose install script the
 * project needs: npm 11.16+ warns of each one it does not name, and npm 12
 * skips its script (better-sqlite3 would not be built, and the tests' SQLite
 * would not load). The lock file says which packages have one.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { ROOT } from './transpile.js'

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> }

t.test('every locked dependency with an install script is named in allowScripts, and allowed', async (t) => {
  const withScripts = Object.entries(lock.packages)
    .filter(([where, info]) => where !== '' && info.hasInstallScript === true)
    .map(([where]) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length))
  t.ok(withScripts.includes('better-sqlite3'), 'the lock file marks better-sqlite3 (its native build)')
  for (const name of withScripts) t.equal(pkg.allowScripts?.[name], true, name)
  t.same(Object.keys(pkg.allowScripts ?? {}).filter((name) => !withScripts.includes(name)), [], 'no entry for a package without one')
})
