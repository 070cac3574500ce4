/**
 * pack()'s sweep of the staging directories killed packs left in its tmpDir
 * (shoebox-pack-HOST~PID~XXXXXX): a pid comes back (a container's command
 * is pid 1 on every run), so one named with this process's own pid is a
 * dead run's unless a pack of this process made it. The sweep of packs run
 * as child processes (SIGKILL, another process's live pid) is in
 * pack-abort.test.ts.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { pack } from '../../lib/pack/pack.js'
import { hostName, writerTag } from '../../lib/roll/names.js'
import { tempDir } from '../temp-dir.js'

function tree (root: string, name: string, files: number): string {
  const src = path.join(root, name)
  fs.mkdirSync(src)
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(src, `f${i}`), Buffer.alloc(1024, i))
  return src
}

const staged = (tmp: string): string[] => fs.readdirSync(tmp).filter((n) => n.startsWith('shoebox-pack-')).sort()

t.test('a staging directory named with this process\'s pid that no pack of it made is a dead run\'s: removed', async (t) => {
  const root = tempDir(t)
  const src = tree(root, 'src', 2)
  const tmp = path.join(root, 'tmp')
  fs.mkdirSync(tmp)
  const to = path.join(root, 'store')
  // What a killed earlier run under this pid (pid 1 in a container, run again) left: a half archive and its note.
  const reused = `shoebox-pack-${hostName()}~${process.pid}~Ab12Cd`
  fs.mkdirSync(path.join(tmp, reused))
  fs.writeFileSync(path.join(tmp, reused, '.to'), to)
  fs.writeFileSync(path.join(tmp, reused, '.half.shoebox~x~1.part'), Buffer.alloc(4096))
  // The test runner's: alive, so a live pack's.
  const live = `shoebox-pack-${hostName()}~${process.ppid}~Ab12Cd`
  const otherHost = `shoebox-pack-x.${hostName()}~${process.pid}~Ab12Cd`
  // The older name (mkdtemp's suffix only) says no process.
  const older = 'shoebox-pack-Ab12Cd'
  for (const name of [live, otherHost, older]) fs.mkdirSync(path.join(tmp, name))

  const summary = await pack(src, { to, tmpDir: tmp })
  t.equal(summary.files, 2)
  t.same(staged(tmp), [live, older, otherHost].sort(), 'the reused pid\'s is removed; a live pid\'s, another host\'s and an older name stay')
})

t.test('a pack of this process keeps its staging directory while another pack of it sweeps the same tmpDir', async (t) => {
  const root = tempDir(t)
  const tmp = path.join(root, 'tmp')
  fs.mkdirSync(tmp)
  const to = path.join(root, 'store')
  // The first pack's onUpload waits: its staging directory stays until the callback settles.
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  let uploaded = (): void => {}
  const firstUpload = new Promise<void>((resolve) => { uploaded = resolve })
  const first = pack(tree(root, 'a', 3), {
    to,
    tmpDir: tmp,
    rollSize: 1,
    onUpload: async () => {
      uploaded()
      await held
    }
  })
  await firstUpload
  const mine = staged(tmp)
  t.equal(mine.length, 1, 'the first pack is staging')
  t.match(mine[0], `~${writerTag()}~`, 'named with this process\'s pid and start')
  // Another spelling of the same tmpDir: the staging directory is still known for the first pack's.
  const second = await pack(tree(root, 'b', 1), { to, tmpDir: path.relative(process.cwd(), tmp) + path.sep })
  t.equal(second.files, 1)
  t.same(staged(tmp), mine, 'the second pack\'s sweep left the first\'s staging directory')
  release()
  const summary = await first
  t.equal(summary.files, 3, 'and the first pack finishes')
  t.same(staged(tmp), [], 'each removed its own')
  t.equal(fs.readdirSync(to).length, 4)
})
