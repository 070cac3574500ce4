/**
 * archiveSource over a tree as a busy machine presents it (the walk itself
 * is tested in test/store/file-store-walk.test.ts): each record read once
 * however links loop, and an archive whose name is not UTF-8 read, not
 * skipped, and resumed from; on S3, objects whose keys a path would refuse
 * ('e/z//c', 'a/../b': S3 holds them) read by their own names.
 */
import fs from 'node:fs'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { archiveSource, encodeRecords, openStore, type Position, type ShoeboxRecord } from '../../lib/index.js'
import { decodeRecords } from '../helpers.js'
import { startS3 } from '../s3-server.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-tree-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

function archive (...payloads: string[]): Buffer {
  return encodeRecords(payloads.map((payload) => ({ payload })))
}

async function payloads (pattern: string, options: Parameters<typeof archiveSource>[1] = {}): Promise<{ texts: string[], records: ShoeboxRecord[] }> {
  const records = await archiveSource(pattern, { cwd: tmp, ...options }).toArray() as ShoeboxRecord[]
  return { texts: records.map((r) => r.payload.toString()), records }
}

t.test('a tree with link loops and a name that is not UTF-8: every record once, in name order, and resumable', async (t) => {
  fs.mkdirSync(path.join(tmp, 'logs', 'sub'), { recursive: true })
  fs.writeFileSync(path.join(tmp, 'logs', 'a.shoebox'), archive('a1', 'a2'))
  fs.writeFileSync(Buffer.concat([Buffer.from(path.join(tmp, 'logs', 'b')), Buffer.from([0xe9]), Buffer.from('.shoebox')]), archive('b1', 'b2'))
  fs.writeFileSync(path.join(tmp, 'logs', 'sub', 'c.shoebox'), archive('c1'))
  fs.symlinkSync('..', path.join(tmp, 'logs', 'sub', 'up')) // a loop: Node's recursive readdir listed c.shoebox 20 times
  fs.symlinkSync(path.join(tmp, 'logs'), path.join(tmp, 'logs', 'sub', 'root'))

  const { texts, records } = await payloads('logs/**/*.shoebox', { positions: true })
  t.same(texts, ['a1', 'a2', 'b1', 'b2', 'c1'])
  t.same(records.map((r) => r.position?.file), ['a.shoebox', 'a.shoebox', 'b\uFFFD.shoebox', 'b\uFFFD.shoebox', 'sub/c.shoebox'])

  // A position in the file with the undecodable name resumes there, as any other.
  const from = records[2].position
  t.same((await payloads('logs/**/*.shoebox', { from })).texts, ['b2', 'c1'])
  // And is fetched by position (a source of its own, which has listed nothing: it was NOT_FOUND).
  t.same((await payloads('logs/**/*.shoebox', { positions: [records[3].position as Position, records[0].position as Position] })).texts, ['b2', 'a1'])
})

t.test('a file store forgets a name that is not UTF-8 once a listing no longer finds it: the key opens what is there now', async (t) => {
  const dir = path.join(tmp, 'renamed')
  fs.mkdirSync(dir)
  const bytes = Buffer.concat([Buffer.from(path.join(dir, 'd')), Buffer.from([0xe9]), Buffer.from('.shoebox')])
  fs.writeFileSync(bytes, archive('old'))
  const store = openStore(dir)
  const keys = async (): Promise<string[]> => { const out: string[] = []; for await (const info of store.list()) out.push(info.key); return out }
  const read = async (key: string): Promise<string[]> => (await decodeRecords(Buffer.concat(await store.get(key).toArray() as Buffer[]))).map((r) => r.payload.toString())
  t.same(await keys(), ['d\uFFFD.shoebox'])
  t.same(await read('d\uFFFD.shoebox'), ['old'])
  // Another program renames it to the name it reads as (U+FFFD, in UTF-8): the same key, another file.
  fs.renameSync(bytes, path.join(dir, 'd\uFFFD.shoebox'))
  fs.writeFileSync(path.join(dir, 'd\uFFFD.shoebox'), archive('new'))
  t.same(await keys(), ['d\uFFFD.shoebox'])
  t.same(await read('d\uFFFD.shoebox'), ['new'], 'the file under that name now, not the bytes of the one gone')

  // A directory listed and then removed: its names are forgotten too (its listing is empty).
  const sub = path.join(dir, 'sub')
  fs.mkdirSync(sub)
  const subBytes = Buffer.concat([Buffer.from(path.join(sub, 'e')), Buffer.from([0xe9]), Buffer.from('.shoebox')])
  fs.writeFileSync(subBytes, archive('old'))
  const inSub = async (): Promise<string[]> => { const out: string[] = []; for await (const info of store.list('sub/')) out.push(info.key); return out }
  t.same(await inSub(), ['sub/e\uFFFD.shoebox'])
  fs.rmSync(sub, { recursive: true })
  t.same(await inSub(), [])
  fs.mkdirSync(sub)
  fs.writeFileSync(path.join(sub, 'e\uFFFD.shoebox'), archive('new'))
  t.same(await read('sub/e\uFFFD.shoebox'), ['new'], 'read by its name, no listing since')
})

t.test('a fetch by positions of two names that are not UTF-8, back and forth: listing one kept the other openable', async (t) => {
  const dir = path.join(tmp, 'bytes2')
  fs.mkdirSync(dir)
  for (const [byte, text] of [[0xe9, 'f'], [0xe8, 'g']] as const) {
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(dir, text)), Buffer.from([byte]), Buffer.from('.shoebox')]), archive(`${text}1`, `${text}2`))
  }
  const { records } = await payloads('bytes2/*.shoebox', { positions: true })
  t.same(records.map((r) => r.payload.toString()), ['f1', 'f2', 'g1', 'g2'])
  const at = (i: number): Position => records[i].position as Position
  // The listing made for the second name (want: that name alone) forgot the first one's bytes: its next record was NOT_FOUND.
  t.same((await payloads('bytes2/*.shoebox', { positions: [at(0), at(2), at(1), at(3)] })).texts, ['f1', 'g1', 'f2', 'g2'])
})

t.test('a file deleted between the listing and its opening fails the read naming it, after the records before it', async (t) => {
  const dir = path.join(tmp, 'gone')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, '1.shoebox'), archive('one'))
  fs.writeFileSync(path.join(dir, '2.shoebox'), archive('two'))
  const source = archiveSource('gone/*.shoebox', { cwd: tmp })
  // Listed by now: the first file is being opened; the second goes before its turn.
  source.once('file', () => { fs.unlinkSync(path.join(dir, '2.shoebox')) })
  const texts: string[] = []
  const err = await (async () => {
    for await (const record of source) texts.push((record as ShoeboxRecord).payload.toString())
  })().then(() => undefined, (e: unknown) => e)
  t.same(texts, ['one'], 'the records before it are delivered')
  t.match(err, { code: 'SHOEBOX_NOT_FOUND', message: /2\.shoebox: no such file or directory \(ENOENT\)$/ })
})

t.test('a glob without ** does not walk below its depth: what lies deeper (a link loop, an unreadable directory) fails nothing', async (t) => {
  const dir = path.join(tmp, 'shallow')
  for (const sub of ['x', 'y/z/w']) fs.mkdirSync(path.join(dir, sub), { recursive: true })
  fs.writeFileSync(path.join(dir, 'top.shoebox'), archive('top'))
  fs.writeFileSync(path.join(dir, 'x', '1.shoebox'), archive('x1'))
  fs.writeFileSync(path.join(dir, 'y', 'z', '2.shoebox'), archive('z2'))
  fs.writeFileSync(path.join(dir, 'y', 'z', 'w', '3.shoebox'), archive('w3'))
  fs.symlinkSync('self.shoebox', path.join(dir, 'y', 'z', 'w', 'self.shoebox'))
  fs.symlinkSync('notes.txt', path.join(dir, 'notes.txt')) // at the depth, but not matched: never looked at
  t.same((await payloads('shallow/*.shoebox')).texts, ['top'])
  t.same((await payloads('shallow/{x,y/z}/*.shoebox')).texts, ['x1', 'z2'], 'brace expansions of different depths')
  // Within reach, the loop fails the read, naming it.
  await t.rejects(payloads('shallow/**/*.shoebox'), { message: /list y\/z\/w\/self\.shoebox: too many levels of symbolic links \(ELOOP\)$/ })
})

t.test('S3: empty folder markers (\'d/e/\', as consoles make them) are passed over; NFC and NFD names are two objects, each read once', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const client = s3.client()
  const keys = ['d/a.shoebox', 'd/caf\u00e9.shoebox', 'd/cafe\u0301.shoebox', 'd/e/', 'd/e/f.shoebox', 'd/g.shoebox/']
  for (const key of keys) {
    const body = key.endsWith('/') ? Buffer.alloc(0) : archive(key)
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }))
  }
  const storeOptions = { endpoint: s3.endpoint, credentials: s3.credentials }
  t.same((await payloads(`s3://${s3.bucket}/d/**`, { storeOptions })).texts, ['d/a.shoebox', 'd/cafe\u0301.shoebox', 'd/caf\u00e9.shoebox', 'd/e/f.shoebox'])
  t.same((await payloads(`s3://${s3.bucket}/d/*.shoebox`, { storeOptions })).texts, ['d/a.shoebox', 'd/cafe\u0301.shoebox', 'd/caf\u00e9.shoebox'])
})

t.test('S3: a key with an empty segment (e/z//c, which S3 holds) is read as listed, and fetched by its position', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const client = s3.client()
  for (const key of ['e/a.shoebox', 'e/z//c.shoebox', 'e/z/c.shoebox']) {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: archive(key) }))
  }
  const storeOptions = { endpoint: s3.endpoint, credentials: s3.credentials }
  // It failed the read when its turn came ('key "e/z//c.shoebox": has an empty segment'), losing the rest.
  const { texts, records } = await payloads(`s3://${s3.bucket}/e/**`, { storeOptions, positions: true })
  t.same(texts, ['e/a.shoebox', 'e/z//c.shoebox', 'e/z/c.shoebox'], 'every object, each its own records (e/z/c is another object)')
  const position = records[1].position
  t.match(position, { file: 'z//c.shoebox' })
  t.same((await payloads(`s3://${s3.bucket}/e/**`, { storeOptions, positions: [position as Position] })).texts, ['e/z//c.shoebox'], 'fetched by its position')
})

t.test("S3: a store reads and stats any name S3 holds ('.' and '..' segments too), each by its own name; writing or deleting one is refused naming the store", async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const client = s3.client()
  // Each odd name beside the key a path normaliser would make of it: a read must get its own object's bytes.
  const keys = ['e/z/./d.shoebox', 'e/z/d.shoebox', 'e/z/../f.shoebox', 'e/f.shoebox', 'e/../g.shoebox', 'g.shoebox', 'e//h.shoebox']
  for (const key of keys) await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: archive(key) }))
  const store = openStore(`s3://${s3.bucket}/e`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(() => store.close())
  const listed: string[] = []
  for await (const info of store.list()) listed.push(info.key)
  t.same(listed.sort(), ['../g.shoebox', '/h.shoebox', 'f.shoebox', 'z/../f.shoebox', 'z/./d.shoebox', 'z/d.shoebox'])
  for (const key of listed) {
    const bytes = Buffer.concat(await store.get(key).toArray() as Buffer[])
    t.same((await decodeRecords(bytes)).map((r) => r.payload.toString()), [`e/${key}`], `${key}: its own object`)
    t.equal((await store.stat(key)).size, bytes.length, `${key}: stat`)
  }
  await t.rejects(store.put('z/../f.shoebox', 'x'), { code: 'SHOEBOX_BAD_KEY', message: `s3://${s3.bucket}/e: key "z/../f.shoebox": has a '..' segment` })
  // A delete is a change: it never rests on no server or proxy normalising '..' (outside the prefix, 'e/../g' is 'g').
  await t.rejects(store.delete('../g.shoebox'), { code: 'SHOEBOX_BAD_KEY', message: `s3://${s3.bucket}/e: key "../g.shoebox": has a '..' segment` })
  await t.rejects(store.delete('/h.shoebox'), { code: 'SHOEBOX_BAD_KEY' })
  t.same(s3.keys(), ['e/../g.shoebox', 'e//h.shoebox', 'e/f.shoebox', 'e/z/../f.shoebox', 'e/z/./d.shoebox', 'e/z/d.shoebox', 'g.shoebox'], 'nothing deleted')
})

t.test('following: a file deleted between its listing and its opening is reported skipped, and the follow goes on', async (t) => {
  const dir = path.join(tmp, 'follow-gone')
  fs.mkdirSync(dir)
  const old = new Date(Date.now() - 60_000) // settled long ago: read at the first listing
  for (const [name, text] of [['1.shoebox', 'one'], ['2.shoebox', 'two']]) {
    fs.writeFileSync(path.join(dir, name), archive(text))
    fs.utimesSync(path.join(dir, name), old, old)
  }
  const source = archiveSource('follow-gone/*.shoebox', { cwd: tmp, follow: true, pollInterval: 20 })
  const skipped: unknown[] = []
  source.on('skipped', (info) => {
    skipped.push(info)
    // The follow goes on: a file written after it is read.
    fs.writeFileSync(path.join(dir, '3.shoebox'), archive('three'))
    fs.utimesSync(path.join(dir, '3.shoebox'), old, old)
  })
  // Listed by now: the first file is being opened; the second goes before its turn (an uploader's --delete-local).
  source.once('file', () => { fs.unlinkSync(path.join(dir, '2.shoebox')) })
  const texts: string[] = []
  for await (const record of source) {
    texts.push((record as ShoeboxRecord).payload.toString())
    if (texts.length === 2) source.stop()
  }
  t.same(texts, ['one', 'three'])
  t.match(skipped, [{ name: '2.shoebox', path: path.join(dir, '2.shoebox'), reason: 'deleted before it could be read' }])
})
