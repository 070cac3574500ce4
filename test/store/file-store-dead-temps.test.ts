/**
 * A directory store's temporary files (`.NAME~<host>~<pid>~<hex>.shoebox-tmp`)
 * that a process killed outright left: a one-shot put (`shoebox upload`,
 * `shoebox meta push`) noted its file nowhere, and a file store lists no
 * uploads, so the first writer of the store in that directory removes those
 * of this host whose pid is gone; a live writer's, another host's, and those
 * of directories it does not write into stay.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { FileStore } from '../../lib/store/file-store.js'
import { hostName } from '../../lib/roll/names.js'
import { startCli } from '../fixtures-roll/cli-child.js'
import { cliBinary, runCli } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../temp-dir.js'

/** A pid no process has: past the largest pid_max (2^22). */
const DEAD_PID = 999_999_999
const TAG_HEX = '0123456789ab'

const temps = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((n) => n.endsWith('.shoebox-tmp')).sort()

t.test('the first writer in a directory removes the dead writers\' temporary files of this host there, and only those', async (t) => {
  const root = tempDir(t)
  const store = new FileStore(root)
  const host = hostName()
  fs.mkdirSync(path.join(root, 'd'))
  fs.mkdirSync(path.join(root, 'other'))
  const dead = `.k~${host}~${DEAD_PID}~${TAG_HEX}.shoebox-tmp`
  const deadOfAnotherKey = `.x.y~z~${host}~${DEAD_PID}~${TAG_HEX}.shoebox-tmp`
  // The test runner's, alive.
  const live = `.k~${host}~${process.ppid}~${TAG_HEX}.shoebox-tmp`
  // This process's pid, but none of its writers': a run killed before, whose pid came back (a container's pid 1).
  const pidReused = `.k~${host}~${process.pid}~${TAG_HEX}.shoebox-tmp`
  // A host that ends as this one does ('x.' + host): its name must not be read as this host's.
  const otherHost = `.k~x.${host}~${DEAD_PID}~${TAG_HEX}.shoebox-tmp`
  const older = `.k.${TAG_HEX}.shoebox-tmp`
  for (const name of [dead, deadOfAnotherKey, live, pidReused, otherHost, older]) fs.writeFileSync(path.join(root, 'd', name), 'half')
  fs.writeFileSync(path.join(root, 'other', dead), 'half')

  await store.put('d/new', 'bytes')
  t.same(temps(path.join(root, 'd')), [live, older, otherHost].sort(), 'the dead ones of this host are gone (any key\'s, and one of this pid no writer holds); a live one, another host\'s and an older name stay')
  t.equal(fs.readFileSync(path.join(root, 'd', 'new'), 'utf8'), 'bytes', 'and the put is done')
  t.same(temps(path.join(root, 'other')), [dead], 'a directory it did not write into is not swept')

  // Once per directory: a dead file that appears later is left to the next process.
  fs.writeFileSync(path.join(root, 'd', dead), 'half')
  await store.put('d/again', 'bytes')
  t.ok(fs.existsSync(path.join(root, 'd', dead)), 'swept once per directory')

  // A writer of this process under way: another store's sweep of its directory leaves its file.
  const writer = store.writer('e/slow')
  writer.write(Buffer.from('first half, '))
  while (temps(path.join(root, 'e')).length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const writing = temps(path.join(root, 'e'))
  const other = new FileStore(root)
  await other.put('e/quick', 'bytes')
  t.same(temps(path.join(root, 'e')), writing, 'a writer of this process keeps its temporary file')
  writer.end(Buffer.from('second half'))
  await new Promise((resolve) => writer.once('finish', resolve))
  t.equal(fs.readFileSync(path.join(root, 'e', 'slow'), 'utf8'), 'first half, second half', 'and finishes its object')
  t.same(temps(path.join(root, 'e')), [])
  await other.close()
  await store.close()
})

/** A preload for a child: its open of a store's temporary file creates it, then never returns. */
function hangAtTemp (dir: string): string {
  const hang = path.join(dir, 'hang.mjs')
  fs.writeFileSync(hang, [
    "import fs from 'node:fs/promises'",
    'const open = fs.open',
    'fs.open = async function (file, ...rest) {',
    '  const handle = await open.call(this, file, ...rest)',
    "  if (String(file).endsWith('.shoebox-tmp')) { process.stdout.write('hanging\\n'); setInterval(() => {}, 60000); return await new Promise(() => {}) }",
    '  return handle',
    '}'
  ].join('\n'))
  return hang
}

/** Run the CLI with `args` until it hangs at its temporary file's open, then SIGKILL it; its pid. */
async function killedAtTemp (t: Test, root: string, args: string[]): Promise<number> {
  const child = startCli(t, cliBinary(), args, { nodeArgs: ['--import', pathToFileURL(hangAtTemp(root)).href] })
  child.child.stdin.end()
  await new Promise<void>((resolve) => { child.child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('hanging')) resolve() }) })
  child.child.kill('SIGKILL')
  return (await child.done).pid
}

t.test('shoebox upload SIGKILLed mid-put into a directory: the next upload there removes its temporary file', async (t) => {
  const root = tempDir(t)
  const file = path.join(root, 'f.bin')
  fs.writeFileSync(file, Buffer.alloc(100_000, 7))
  const to = path.join(root, 'store')
  fs.mkdirSync(to)
  // A live writer's temporary file (this process's pid: alive, not the child's) is left alone.
  const live = `.f.bin~${hostName()}~${process.pid}~${TAG_HEX}.shoebox-tmp`
  fs.writeFileSync(path.join(to, live), 'writing')
  const args = ['upload', file, '--to', to]
  const pid = await killedAtTemp(t, root, args)
  const left = temps(to).filter((n) => n !== live)
  t.equal(left.length, 1, 'the kill left its temporary file')
  t.match(left[0], new RegExp(`^\\.f\\.bin~${hostName().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}~${pid}-\\d+-[0-9a-f]{8}~`), 'named with its host, pid and start')

  const r = await runCli(cliBinary(), args)
  t.equal(r.code, 0, r.stderr)
  t.same(temps(to), [live], 'the next upload removed it; the live one stays')
  t.ok(fs.readFileSync(path.join(to, 'f.bin')).equals(fs.readFileSync(file)), 'and the object is the file')
})

t.test('shoebox meta push SIGKILLed mid-put into a directory: the next push removes its temporary file', async (t) => {
  const base = tempDir(t)
  const history = '2026-11-22T12:17:55.295840.append'
  fs.mkdirSync(path.join(base, '_mmmeta', 'db'), { recursive: true })
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), 'metadata:\n  unique: content_hash\n')
  fs.writeFileSync(path.join(base, '_mmmeta', 'db', history), '{"content_hash":"a"}\n')
  const target = path.join(tempDir(t), 'pushed')
  const args = ['meta', 'push', target, '--metadir', base]
  await killedAtTemp(t, base, args)
  const db = path.join(target, '_mmmeta', 'db')
  t.equal(temps(db).length, 1, 'the kill left the history file\'s temporary file')

  const r = await runCli(cliBinary(), args)
  t.equal(r.code, 0, r.stderr)
  t.same(temps(db), [], 'the next push removed it')
  t.equal(fs.readFileSync(path.join(db, history), 'utf8'), '{"content_hash":"a"}\n', 'and pushed the history file')
})
