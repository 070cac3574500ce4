/**
 * decode, verify and upload take FILE arguments as read, ls and unpack take
 * a PATTERN: a directory stands for the files directly in it (writers'
 * dotfiles left out), in name order (file-args.ts). A file named twice, or
 * a file and its directory, is taken once. `verify DIR` and `decode DIR`
 * said "is a directory", `decode a a` printed every record twice, and
 * `upload a a` was refused as two files of one name. An empty argument
 * (an unset shell variable) is a usage error, not "cannot read : ENOENT".
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { cli } from '../cli-run.js'
import { tempDir } from '../temp-dir.js'

/** `shoebox write DIR` of n records, a file sealed every 2; the names of the files sealed, in order. */
async function written (dir: string, n: number): Promise<string[]> {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ n: i })).join('\n') + '\n'
  const r = await cli(['write', dir, '--roll-records', '2'], lines)
  if (r.code !== 0) throw new Error(r.stderr)
  return fs.readdirSync(dir).filter((name) => !name.startsWith('.')).sort()
}

t.test('verify DIR and decode DIR read the files directly in it, as read DIR does', async (t) => {
  const tmp = tempDir(t)
  const dir = path.join(tmp, 'logs')
  const files = await written(dir, 5)
  t.equal(files.length, 3)
  // A writer's temporary file and a subdirectory are not among them.
  fs.writeFileSync(path.join(dir, `.${files[0]}~host~1.part`), 'half')
  fs.mkdirSync(path.join(dir, 'sub'))
  const verified = await cli(['verify', dir])
  t.equal(verified.code, 0, String(verified.stdout))
  t.same(String(verified.stdout).split('\n').filter(Boolean).map((line) => line.split(': ')[0]), files.map((f) => path.join(dir, f)))
  t.equal(String(verified.stdout), String((await cli(['verify', `${dir}/`])).stdout), 'a trailing slash')
  const decoded = await cli(['decode', dir])
  t.equal(decoded.code, 0, decoded.stderr)
  t.equal(String(decoded.stdout), String((await cli(['read', dir])).stdout))
  t.equal(String(decoded.stdout).split('\n').filter(Boolean).length, 5)
})

t.test('a file named twice, or with its directory, is read once', async (t) => {
  const tmp = tempDir(t)
  const dir = path.join(tmp, 'logs')
  const files = await written(dir, 3)
  const first = path.join(dir, files[0])
  const again = path.join(dir, '..', 'logs', files[0])
  const decoded = await cli(['decode', first, again, dir])
  t.equal(decoded.code, 0, decoded.stderr)
  t.same(String(decoded.stdout).split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { payload: { n: number } }).payload.n), [0, 1, 2], 'each record once')
  const verified = await cli(['verify', first, dir, first])
  t.equal(verified.code, 0)
  t.same(String(verified.stdout).split('\n').filter(Boolean).map((line) => line.split(': ')[0]), [first, path.join(dir, files[1])], 'one line a file, where first named')
})

t.test('upload DIR uploads the files directly in it; a file named twice is uploaded once', async (t) => {
  const tmp = tempDir(t)
  const dir = path.join(tmp, 'logs')
  const files = await written(dir, 4)
  fs.writeFileSync(path.join(dir, '.marker.uploading'), '')
  const to = path.join(tmp, 'store')
  const r = await cli(['upload', dir, path.join(dir, files[0]), '--to', to])
  t.equal(r.code, 0, r.stderr)
  t.equal(String(r.stdout).split('\n').filter(Boolean).length, 2, 'one line a file')
  t.same(fs.readdirSync(to).sort(), files, 'the files, not the dotfile')
  for (const f of files) t.same(fs.readFileSync(path.join(to, f)), fs.readFileSync(path.join(dir, f)))
})

t.test('an empty argument is a usage error naming it', async (t) => {
  const tmp = tempDir(t)
  for (const args of [['verify', ''], ['decode', ''], ['upload', '', '--to', path.join(tmp, 'store')]]) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.equal(r.stderr.split('\n')[0], `shoebox ${args[0]}: '' names no file (an empty argument: an unset shell variable?)`)
    t.equal(r.stdout.length, 0)
  }
  t.notOk(fs.existsSync(path.join(tmp, 'store')), 'nothing uploaded')
})
