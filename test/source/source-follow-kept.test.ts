/**
 * What a follower keeps per file read, and what each poll looks at: a file
 * a shoebox writer sealed (its temporary name was seen) and that was read to
 * its end cannot change, so it is kept as a name alone and never stat'ed
 * again; any other file read is still stat'ed every poll, and read again from
 * its last record when it grows (README, `follow`). Counted (stat calls, the
 * gate's kept entries), not timed.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { archiveSource, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'
import { FollowGate } from '../../lib/source/follow.js'
import type { ListedFile } from '../../lib/source/order.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-follow-kept-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const archive = (tag: string, n: number): Buffer => encodeRecords(Array.from({ length: n }, (_, i) => ({ metadata: { tag }, payload: `${tag}${i}` })))

t.test('sealed files read whole are not stat\'ed by later polls; a file copied in is, and is read again as it grows', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'd-'))
  const plain = path.join(dir, 'copied.shoebox')
  fs.writeFileSync(plain, archive('c', 3))
  fs.utimesSync(plain, new Date(Date.now() - 60000), new Date(Date.now() - 60000))
  const source = archiveSource(path.join(dir, '*.shoebox'), { follow: true, pollInterval: 20 })
  const seen: string[] = []
  let want = 3
  let reached: () => void = () => {}
  source.on('data', (record: ShoeboxRecord) => {
    seen.push(record.payload.toString())
    if (seen.length === want) reached()
  })
  const until = async (n: number): Promise<void> => {
    want = n
    if (seen.length >= n) return
    await new Promise<void>((resolve) => { reached = resolve })
  }
  await until(3)
  // The follower's listings of dir, counted: each name is linked into place only after a listing saw its temporary
  // file and the poll that took that listing is over (the next listing began), never after a sleep a loaded machine
  // could outlast.
  const readdir = fsp.readdir
  let listings = 0
  let awaited = ''
  let sawTempAt = -1
  let listed: () => void = () => {}
  fsp.readdir = (async (where: fs.PathLike, ...rest: unknown[]) => {
    const at = String(where) === dir ? ++listings : -1
    listed()
    const entries = await (readdir as (...args: unknown[]) => Promise<fs.Dirent[]>)(where, ...rest)
    if (at > 0 && entries.some((entry) => String(entry.name) === awaited)) sawTempAt = at
    return entries
  }) as typeof fsp.readdir
  const seenByAPoll = async (temp: string): Promise<void> => {
    awaited = path.basename(temp)
    sawTempAt = -1
    while (sawTempAt === -1 || listings <= sawTempAt) await new Promise<void>((resolve) => { listed = resolve })
  }
  /** Until `n` more listings have begun: the polls before the last of them are over. */
  const polls = async (n: number): Promise<void> => {
    const target = listings + n
    while (listings < target) await new Promise<void>((resolve) => { listed = resolve })
  }
  const stats = new Map<string, number>()
  const stat = fsp.stat
  try {
    // Sealed as a shoebox writer seals: written under its temporary name (which a listing sees), then linked into place.
    for (const name of ['s1', 's2', 's3']) {
      const temp = path.join(dir, `.${name}.shoebox~host~4242.part`)
      fs.writeFileSync(temp, archive(name, 2))
      await seenByAPoll(temp)
      fs.linkSync(temp, path.join(dir, `${name}.shoebox`))
      fs.unlinkSync(temp)
    }
    await until(9)
    await polls(2) // the poll that read the last file is over
    fsp.stat = (async (file: fs.PathLike, ...rest: unknown[]) => {
      const name = path.basename(String(file))
      stats.set(name, (stats.get(name) ?? 0) + 1)
      return await (stat as (...args: unknown[]) => Promise<fs.Stats>)(file, ...rest)
    }) as typeof fsp.stat
    await polls(5) // four whole polls counted
  } finally {
    fsp.stat = stat
    fsp.readdir = readdir
  }
  t.ok((stats.get('copied.shoebox') ?? 0) >= 2, `the copied file is stat'ed every poll (${stats.get('copied.shoebox') ?? 0} times)`)
  t.same(['s1', 's2', 's3'].map((s) => stats.get(`${s}.shoebox`) ?? 0), [0, 0, 0], 'the sealed files read whole are not')
  // The copied file grows: still read again from its last record, as the README says.
  fs.writeFileSync(plain, Buffer.concat([archive('c', 3), archive('d', 2)]))
  await until(11)
  source.stop()
  t.same(seen, ['c0', 'c1', 'c2', 's10', 's11', 's20', 's21', 's30', 's31', 'd0', 'd1'], 'every record once, in order')
})

const listed = (name: string, size: number, mtimeMs = 1000): ListedFile => ({ name, path: `/x/${name}`, size, mtimeMs })
const record = (offset: number, payload: string, member?: { offset: number, skip: number }): ShoeboxRecord =>
  ({ metadata: { k: 'v' }, payload: Buffer.from(payload), position: member === undefined ? { file: 'f', offset } : { file: 'f', offset, member } })

t.test('FollowGate keeps a sealed file read whole as its name alone, and numbers for any other', async (t) => {
  const gate = new FollowGate(1000)
  gate.sealing.add('sealed.shoebox')
  gate.sealing.add('torn.shoebox')
  gate.read(listed('sealed.shoebox', 100), record(80, 'x'), 'to-end')
  gate.read(listed('torn.shoebox', 50), record(10, 'y'), 'cut-short')
  gate.read(listed('copied.shoebox.gz', 70), record(500, 'z', { offset: 40, skip: 12 }), 'to-end')
  t.same(gate.kept, { read: 2, final: 1, waiting: 0, sealing: 0 })
  t.same([gate.mayChange('sealed.shoebox'), gate.mayChange('torn.shoebox'), gate.mayChange('copied.shoebox.gz')], [false, true, true])
  t.equal(gate.changed({ name: 'sealed.shoebox', path: '/x/sealed.shoebox' }), false, 'listed without a size: not changed')
  t.equal(gate.changed(listed('copied.shoebox.gz', 70)), false)
  t.equal(gate.changed(listed('copied.shoebox.gz', 90)), true)
  t.same(gate.resumeAt('copied.shoebox.gz'), { file: 'copied.shoebox.gz', offset: 500, member: { offset: 40, skip: 12 } })
  t.same(gate.resumeAt('torn.shoebox'), { file: 'torn.shoebox', offset: 10 })
  t.equal(gate.isLast('copied.shoebox.gz', record(500, 'z', { offset: 40, skip: 12 })), true)
  t.equal(gate.isLast('copied.shoebox.gz', record(500, 'q', { offset: 40, skip: 12 })), false, 'another payload')
  t.equal(gate.isLast('copied.shoebox.gz', { ...record(500, 'z'), metadata: { k: 'w' } }), false, 'other metadata')
  // A read again that delivers nothing new keeps the last record's place; the file's new size is kept.
  gate.read(listed('torn.shoebox', 60), undefined, 'cut-short')
  t.same(gate.resumeAt('torn.shoebox'), { file: 'torn.shoebox', offset: 10 })
  t.equal(gate.changed(listed('torn.shoebox', 60)), false)
  gate.forget('torn.shoebox')
  t.equal(gate.resumeAt('torn.shoebox'), undefined)
})

t.test('FollowGate forgets what a listing no longer shows: a file waiting to be stable, a sealing name whose files went', async (t) => {
  const gate = new FollowGate(1000)
  const now = 100000
  // A file copied in a moment ago: waits to be stable.
  t.equal(gate.ready(listed('copying.shoebox', 10, now), now), false)
  t.equal(gate.waiting('copying.shoebox'), true)
  // A listing sees two writers' temporary files.
  gate.listing().add('a.shoebox').add('b.shoebox')
  gate.listed((name) => name === 'copying.shoebox')
  t.same(gate.kept, { read: 0, final: 0, waiting: 1, sealing: 2 })
  // The next: a.shoebox sealed (listed, not read yet), b.shoebox's temporary file gone without it, the copy deleted.
  // b.shoebox is kept through one such listing (it may have read the directory before a link, and looked the
  // temporary file up after its unlink), and forgotten when the next misses it too.
  gate.listing()
  gate.listed((name) => name === 'a.shoebox')
  t.same(gate.kept, { read: 0, final: 0, waiting: 0, sealing: 2 })
  gate.listing()
  gate.listed((name) => name === 'a.shoebox')
  t.same(gate.kept, { read: 0, final: 0, waiting: 0, sealing: 1 })
  t.equal(gate.ready(listed('a.shoebox', 10, now), now), true, 'a sealed file is read at once')
  gate.read(listed('a.shoebox', 10, now), record(0, 'x'), 'to-end')
  t.same(gate.kept, { read: 0, final: 1, waiting: 0, sealing: 0 })
  gate.gone('a.shoebox')
  t.same(gate.kept, { read: 0, final: 0, waiting: 0, sealing: 0 })
  t.equal(gate.mayChange('a.shoebox'), true, 'a file under the name again is looked at')
})

t.test('FollowGate: a listing that saw neither a sealed file nor its temporary file (between the link and the unlink) does not lose it', async (t) => {
  const gate = new FollowGate(1000)
  const now = 100000
  gate.listing().add('s.shoebox')
  gate.listed(() => false)
  // Read the directory before the link, looked the temporary file up after the unlink: neither shown.
  gate.listing()
  gate.listed(() => false)
  // The next listing shows the sealed file: still read at once, kept as a name alone once read.
  gate.listing()
  gate.listed((name) => name === 's.shoebox')
  t.equal(gate.ready(listed('s.shoebox', 10, now), now), true, 'read at once, not after it stays unchanged')
  gate.read(listed('s.shoebox', 10, now), record(0, 'x'), 'to-end')
  t.same(gate.kept, { read: 0, final: 1, waiting: 0, sealing: 0 })
  t.equal(gate.mayChange('s.shoebox'), false, 'never stat\'ed again')
})
