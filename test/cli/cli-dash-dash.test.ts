/**
 * After `--`, every argument is a name, not a flag: a file called `-h` or `--help` is read, not taken for a help
 * request. `shoebox decode -- -h > out.ndjson` printed the help into out.ndjson and exited 0, the file unread.
 * A real process in the files' own directory, as a user types it.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../temp-dir.js'

const run = promisify(execFile)

interface Ran { code: number, stdout: Buffer, stderr: string }

async function shoebox (cwd: string, args: string[]): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliBinary(), ...args], { cwd, env: cliEnv(), encoding: 'buffer' })
    return { code: 0, stdout, stderr: stderr.toString() }
  } catch (err) {
    const e = err as { code: number, stdout: Buffer, stderr: Buffer }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr.toString() }
  }
}

t.test('files named -h and --help after --: read as files by decode, verify, upload and read', async (t) => {
  const dir = tempDir(t, 'cli-dash-dash-')
  const archive = encodeRecords([{ metadata: { k: 'v' }, payload: Buffer.from('{"n":1}') }])
  fs.writeFileSync(path.join(dir, '-h'), archive)
  fs.writeFileSync(path.join(dir, '--help'), archive)

  const decoded = await shoebox(dir, ['decode', '--', '-h', '--help'])
  t.same([decoded.code, decoded.stderr], [0, ''])
  t.equal(decoded.stdout.toString(), '{"metadata":{"k":"v"},"payload":{"n":1}}\n'.repeat(2), 'both files\' records, no help')

  const verified = await shoebox(dir, ['verify', '--', '--help', '-h'])
  t.same([verified.code, verified.stderr], [0, ''])
  t.equal(verified.stdout.toString(), `--help: OK: 1 record (v1 0, v2 1), ${archive.length} bytes\n-h: OK: 1 record (v1 0, v2 1), ${archive.length} bytes\n`)

  const uploaded = await shoebox(dir, ['upload', '--to', path.join(dir, 'up'), '--', '-h'])
  t.equal(uploaded.code, 0, uploaded.stderr)
  t.ok(fs.readFileSync(path.join(dir, 'up', '-h')).equals(archive), 'the file -h uploaded')

  const read = await shoebox(dir, ['read', '--', '--help'])
  t.same([read.code, read.stderr], [0, ''])
  t.equal(read.stdout.toString(), '{"metadata":{"k":"v"},"payload":{"n":1}}\n', 'read took --help as its pattern')

  // Before `--`, -h and --help still ask for the help, as they did.
  const help = await shoebox(dir, ['decode', '-h', '--', 'x'])
  t.same([help.code, help.stdout.toString().split('\n')[0]], [0, 'Usage: shoebox decode [options] [file ...]'])
  const groupHelp = await shoebox(dir, ['events', 'get', '--help'])
  t.equal(groupHelp.code, 0)
  t.match(groupHelp.stdout.toString(), /^Usage: shoebox events get/)
})
