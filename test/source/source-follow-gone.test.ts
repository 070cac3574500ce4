/**
 * A follower over a directory that is cleaned up behind it (an uploader's
 * --delete-local): a name a listing no longer shows is forgotten, and a
 * file that later comes under it is new and read whole, a file a shoebox
 * writer sealed too (one read to its end is never stat'ed again, so only the
 * listing can tell it went). Waits on the follower's own counts
 * (followKept), asserts nothing timed.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { archiveSource, encodeRecords, type ArchiveSource, type ShoeboxRecord } from '../../lib/index.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-follow-gone-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const archive = (tag: string, n: number): Buffer => encodeRecords(Array.from({ length: n }, (_, i) => ({ metadata: { tag }, payload: `${tag}${i}` })))

/**
 * Seal `bytes` as `name` as a shoebox writer does: under its temporary name first (until `f`'s listing saw it:
 * no other may be pending), then linked into place.
 */
async function seal (f: Follower, dir: string, name: string, bytes: Buffer): Promise<boolean> {
  const temp = path.join(dir, `.${name}~host~4242.part`)
  fs.writeFileSync(temp, bytes)
  const seen = await f.kept((k) => k.sealing > 0)
  fs.linkSync(temp, path.join(dir, name))
  fs.unlinkSync(temp)
  return seen
}

type Kept = NonNullable<ArchiveSource['followKept']>
interface Follower { source: ArchiveSource, seen: string[], until: (n: number) => Promise<boolean>, kept: (test: (k: Kept) => boolean) => Promise<boolean> }

/** Follow `dir`'s '*.shoebox' (20 ms polls), collecting payloads; `until(n)` is false if they did not reach n in 5 s. */
function follow (dir: string): Follower {
  const source = archiveSource(path.join(dir, '*.shoebox'), { follow: true, pollInterval: 20 })
  const seen: string[] = []
  source.on('data', (record: ShoeboxRecord) => { seen.push(record.payload.toString()) })
  const wait = async (done: () => boolean): Promise<boolean> => {
    for (let i = 0; i < 500 && !done(); i++) await sleep(10)
    return done()
  }
  return {
    source,
    seen,
    until: async (n) => await wait(() => seen.length >= n),
    kept: async (test) => await wait(() => source.followKept !== undefined && test(source.followKept))
  }
}

t.test('a sealed file deleted, then sealed again under its name, is read again whole', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'd-'))
  const f = follow(dir)
  t.ok(await seal(f, dir, 'a.shoebox', archive('a', 2)), 'the temporary name seen')
  t.ok(await f.until(2))
  t.ok(await f.kept((k) => k.final === 1), 'kept as a sealed file read whole (its name alone)')
  fs.unlinkSync(path.join(dir, 'a.shoebox'))
  t.ok(await f.kept((k) => k.names === 0 && k.final === 0), 'a listing without it forgets it')
  // The same size, as a writer's next file of the same shape would be.
  t.ok(await seal(f, dir, 'a.shoebox', archive('b', 2)))
  t.ok(await f.until(4), 'the new file under the name is read')
  f.source.stop()
  t.same(f.seen, ['a0', 'a1', 'b0', 'b1'])
})

t.test('a follower of a directory cleaned behind it (an uploader\'s --delete-local) keeps nothing of the files gone', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'd-'))
  const f = follow(dir)
  // Copied in long ago (read at once, kept as a file that may change), and two sealed files (kept as names).
  const copied = path.join(dir, 'copied.shoebox')
  fs.writeFileSync(copied, archive('c', 1))
  fs.utimesSync(copied, new Date(Date.now() - 60000), new Date(Date.now() - 60000))
  t.ok(await seal(f, dir, 's1.shoebox', archive('s', 1)))
  t.ok(await f.until(2)) // read, so that no sealing name is pending when the next is written
  t.ok(await seal(f, dir, 's2.shoebox', archive('t', 1)))
  t.ok(await f.until(3))
  t.ok(await f.kept((k) => k.names === 3 && k.read === 1 && k.final === 2 && k.sealing === 0), 'kept: 3 names, 1 read, 2 final', { kept: f.source.followKept })
  // A writer's file the uploader took before the follower read it: its temporary name was seen, then both went.
  const temp = path.join(dir, '.s3.shoebox~host~4242.part')
  fs.writeFileSync(temp, archive('u', 1))
  t.ok(await f.kept((k) => k.sealing === 1), 'its temporary name seen')
  fs.linkSync(temp, path.join(dir, 's3.shoebox'))
  fs.unlinkSync(temp)
  fs.unlinkSync(path.join(dir, 's3.shoebox'))
  for (const name of ['copied.shoebox', 's1.shoebox', 's2.shoebox']) fs.unlinkSync(path.join(dir, name))
  t.ok(await f.kept((k) => k.names === 0 && k.read === 0 && k.final === 0 && k.sealing === 0 && k.waiting === 0),
    'nothing kept once the listings show none of them')
  // A file copied in later under a name read before is new: read whole.
  fs.writeFileSync(copied, archive('d', 1))
  t.ok(await f.until(4))
  f.source.stop()
  t.same(f.seen.slice(0, 3).sort(), ['c0', 's0', 't0'])
  t.same(f.seen.slice(3), ['d0'])
})
