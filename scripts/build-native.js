/**
 * The package's install step: build the optional native part (native/, see
 * lib/native.ts: the record checksummer and zstd through the system's
 * libzstd) with node-gyp. shoebox works without it, so a machine that
 * cannot build it (no C compiler, no Python, no Node headers) still
 * installs: this prints one line saying so and exits 0; records are then
 * checksummed one at a time through @node-rs/crc32, and zstd goes through
 * node:zlib or @mongodb-js/zstd. SHOEBOX_NATIVE=0 skips the build.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))

if (process.env.SHOEBOX_NATIVE === '0') process.exit(0)

// npm runs install scripts with its own node-gyp at hand: npm_config_node_gyp names its script.
const gypScript = process.env.npm_config_node_gyp
const [command, args] = gypScript !== undefined && gypScript !== ''
  ? [process.execPath, [gypScript, 'rebuild']]
  : ['node-gyp', ['rebuild']]
const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
if (result.status !== 0) {
  const reason = result.error !== undefined
    ? result.error.message
    : (result.stderr.split('\n').find((line) => /error/i.test(line) && !/^gyp info/.test(line)) ?? `node-gyp exited with ${String(result.status)}`)
  process.stderr.write(`shoebox: native part not built (${reason.trim()}); using @node-rs/crc32 per record, and @mongodb-js/zstd rather than the system's libzstd, instead\n`)
}
