/**
 * scripts/build-native.js, the install step that builds the optional native
 * part: as the README promises, a machine that cannot build it still
 * installs (exit 0) and says so in one line, and SHOEBOX_NATIVE=0 skips the
 * build. A stand-in for node-gyp (npm names its own in npm_config_node_gyp)
 * records how it was called, so the real build/ is never touched.
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const script = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'scripts', 'build-native.js')

/** A node-gyp stand-in that writes its arguments to `called` and exits with `code`, after `stderr`. */
function fakeGyp (t: Test, code: number, stderr: string): { gyp: string, called: string } {
  const dir = t.testdir({
    'gyp.cjs': `require('fs').writeFileSync(__dirname + '/called', process.argv.slice(2).join(' '))
process.stderr.write(${JSON.stringify(stderr)})
process.exit(${code})
`
  })
  return { gyp: path.join(dir, 'gyp.cjs'), called: path.join(dir, 'called') }
}

function install (gyp: string, extra: NodeJS.ProcessEnv = {}): { status: number | null, stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_node_gyp: gyp, ...extra }
  if (!('SHOEBOX_NATIVE' in extra)) delete env.SHOEBOX_NATIVE
  const result = spawnSync(process.execPath, [script], { env, encoding: 'utf8' })
  return { status: result.status, stderr: result.stderr }
}

t.test('a failed build still installs, with one line saying why', async (t) => {
  const { gyp, called } = fakeGyp(t, 1, 'gyp info it worked if it ends with ok\ngyp ERR! stack Error: not found: make\ngyp ERR! not ok\n')
  const { status, stderr } = install(gyp)
  t.equal(status, 0, 'exit 0')
  t.equal(fs.readFileSync(called, 'utf8'), 'rebuild', 'node-gyp was asked to rebuild')
  t.same(stderr.split('\n').filter(Boolean), [
    'shoebox: native part not built (gyp ERR! stack Error: not found: make); using @node-rs/crc32 per record, and @mongodb-js/zstd rather than the system\'s libzstd, instead'
  ], 'one line, with the first error node-gyp printed')
})

t.test('a successful build is quiet', async (t) => {
  const { gyp, called } = fakeGyp(t, 0, 'gyp info ok\n')
  const { status, stderr } = install(gyp)
  t.equal(status, 0)
  t.equal(fs.readFileSync(called, 'utf8'), 'rebuild')
  t.equal(stderr, '', 'node-gyp\'s own output is not passed on')
})

t.test('SHOEBOX_NATIVE=0 skips the build', async (t) => {
  const { gyp, called } = fakeGyp(t, 1, 'gyp ERR! should not run\n')
  const { status, stderr } = install(gyp, { SHOEBOX_NATIVE: '0' })
  t.equal(status, 0)
  t.equal(stderr, '')
  t.notOk(fs.existsSync(called), 'node-gyp was not run')
})
