/**
 * "Is this writer still alive" where a process's start cannot be read: no
 * /proc (macOS), or /proc not mounted (an empty directory). The rule falls
 * back to the pid alone (lib/process-start.ts, lib/roll/names.ts): this
 * process names its files by its pid alone; a running pid counts as the
 * writer whatever start a name holds (it cannot be checked), so a live
 * writer's file is never taken; a pid that is not running is a dead writer's,
 * and its file is recovered or removed. test/pid-reuse.test.ts tests the same
 * rule with /proc.
 *
 * /proc is read from a stand-in root (setProcRoot, for tests only); each tap
 * file runs in its own process, so no other test sees it.
 */
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { encodeRecords } from '../lib/index.js'
import { holderAlive, ownStart, processStart, setProcRoot } from '../lib/process-start.js'
import { hostName, leftByDeadWriter, tempName, writerTag } from '../lib/roll/names.js'
import { recoverDirectory, type SkippedTemp } from '../lib/roll/recover.js'
import { FileStore } from '../lib/store/file-store.js'
import { deadPid } from './fixtures-roll/util.js'
import { tempDir } from './temp-dir.js'

const HEX12 = '0123456789ab'

/** A start as a name holds it (`<ticks>-<8 hex digits of a boot id>`): no process's here, none can be read. */
const SOME_START = '81234567-5f1f647d'

/** The live pid: the parent of this test process (tap's runner), running all along and not this process. */
const live = process.ppid

const roots: Array<[string, (t: Test) => string]> = [
  ['no /proc at all', (t) => path.join(tempDir(t), 'proc')],
  ['/proc not mounted (an empty directory)', (t) => tempDir(t)]
]

for (const [what, root] of roots) {
  t.test(`${what}: starts cannot be read, and a pid alone decides`, async (t) => {
    t.ok(processStart(live) !== undefined, 'with /proc, the start of a live process is read')
    setProcRoot(root(t))
    t.teardown(() => { setProcRoot('/proc') })
    t.equal(processStart(live), undefined, 'a live process\'s start')
    t.equal(ownStart(), undefined, 'this process\'s own start')
    t.equal(writerTag(), String(process.pid), 'this process names its files by its pid alone')
    t.equal(path.basename(tempName('a.shoebox')), `.a.shoebox~${hostName()}~${process.pid}.part`)
    t.equal(holderAlive(live, undefined), true, 'a live pid without a start')
    t.equal(holderAlive(live, SOME_START), true, 'a live pid with a start that cannot be checked')
    const dead = await deadPid()
    t.equal(holderAlive(dead, undefined), false, 'a dead pid without a start')
    t.equal(holderAlive(dead, SOME_START), false, 'a dead pid with a start')
    const file = '/nowhere/.a.shoebox~x~1.part'
    t.same([`${live}`, `${live}-${SOME_START}`, `${dead}`, `${dead}-${SOME_START}`].map((w) => leftByDeadWriter(file, hostName(), w)),
      [false, false, true, true], 'leftByDeadWriter: the live pid\'s names are not, the dead pid\'s are')
  })

  t.test(`${what}: recovery leaves a live pid's files, with or without a start, and seals a dead pid's`, async (t) => {
    const dir = tempDir(t)
    setProcRoot(root(t))
    t.teardown(() => { setProcRoot('/proc') })
    const dead = await deadPid()
    const host = hostName()
    const names: Record<string, string | number> = {
      'live.shoebox': live,
      'live-start.shoebox': `${live}-${SOME_START}`,
      'dead.shoebox': dead,
      'dead-start.shoebox': `${dead}-${SOME_START}`
    }
    const temps = Object.fromEntries(Object.entries(names).map(([name, writer]) => [name, path.join(dir, tempName(name, host, writer))]))
    for (const [name, temp] of Object.entries(temps)) fs.writeFileSync(temp, encodeRecords([{ payload: name }]))
    const skipped: SkippedTemp[] = []
    const recovered = await recoverDirectory(dir, { onSkip: (s) => { skipped.push(s) } })
    t.same(recovered.map((r) => [r.path, r.records]).sort(), [[path.join(dir, 'dead-start.shoebox'), 1], [path.join(dir, 'dead.shoebox'), 1]],
      'the dead pid\'s files are sealed, with their record')
    t.same(skipped.map((s) => [s.temp, s.reason]).sort(), [
      [temps['live-start.shoebox'], `pid ${live} is still writing it`],
      [temps['live.shoebox'], `pid ${live} is still writing it`]
    ], 'the live pid\'s files are left, the one whose start cannot be checked too')
    t.ok(fs.existsSync(temps['live.shoebox']) && fs.existsSync(temps['live-start.shoebox']), 'and stay on disk')
  })

  t.test(`${what}: a directory store's scan of temporary files removes a dead pid's and keeps a live pid's`, async (t) => {
    const root0 = tempDir(t)
    setProcRoot(root(t))
    t.teardown(() => { setProcRoot('/proc') })
    const dead = await deadPid()
    fs.mkdirSync(path.join(root0, 'd'))
    const temp = (writer: string | number): string => `.k~${hostName()}~${writer}~${HEX12}.shoebox-tmp`
    const kept = [temp(live), temp(`${live}-${SOME_START}`)]
    for (const n of [...kept, temp(dead), temp(`${dead}-${SOME_START}`)]) fs.writeFileSync(path.join(root0, 'd', n), 'half')
    const store = new FileStore(root0)
    t.teardown(() => store.close())
    await store.put('d/new', 'bytes')
    t.same(fs.readdirSync(path.join(root0, 'd')).filter((n) => n.endsWith('.shoebox-tmp')).sort(), kept.sort())
    t.equal(fs.readFileSync(path.join(root0, 'd', 'new'), 'utf8'), 'bytes')
  })
}
