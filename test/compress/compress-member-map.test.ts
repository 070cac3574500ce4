/**
 * MemberMap: decompressed offset -> the gzip member holding it. Lookups come
 * in non-decreasing order (as a decoder reports records); empty members share
 * a start with the next; the map forgets members behind the last lookup, so a
 * file of thousands of tiny members keeps it small, and lookups stay right.
 */
import zlib from 'node:zlib'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { MemberMap } from '../../lib/compress/member-map.js'
import { decode, encodeRecords, gunzipMembers, type ShoeboxRecord } from '../../lib/index.js'

t.test('lookups: the last member starting at or before the offset, with its skip', async (t) => {
  const map = new MemberMap()
  t.equal(map.at(0), undefined, 'nothing added yet')
  map.add(0, 0)
  map.add(100, 40)
  map.add(100, 70) // an empty member at 100, then the one that holds byte 100
  map.add(100, 90)
  map.add(250, 150)
  t.same(map.at(0), { offset: 0, skip: 0 })
  t.same(map.at(99), { offset: 0, skip: 99 })
  t.same(map.at(100), { offset: 90, skip: 0 }, 'past the empty members')
  t.same(map.at(249), { offset: 90, skip: 149 })
  t.same(map.at(1000), { offset: 150, skip: 750 }, 'the last member holds everything after it')
  t.equal(map.at(10), undefined, 'behind the last lookup: forgotten, not answered wrongly')
})

t.test('span(): the member whole, its length where known, sharing at()\'s order', async (t) => {
  const map = new MemberMap()
  map.add(0, 0, 40) // a zstd frame walked whole knows its length
  map.add(100, 40) // a gzip member (or a salvaged frame) does not
  map.add(250, 150, 30)
  t.same(map.span(5), { offset: 0, length: 40, start: 0 })
  t.same(map.at(99), { offset: 0, skip: 99 })
  t.same(map.span(120), { offset: 40, length: undefined, start: 100 })
  t.same(map.at(120), { offset: 40, skip: 20 }, 'the same member again')
  t.same(map.span(251), { offset: 150, length: 30, start: 250 })
  t.equal(map.span(99), undefined, 'behind the last lookup: forgotten')
})

t.test('thousands of lookups: old members are forgotten, answers stay right', async (t) => {
  const map = new MemberMap()
  for (let i = 0; i < 5000; i++) map.add(i * 10, i * 3)
  let wrong = 0
  for (let offset = 0; offset < 50000; offset += 7) {
    const m = map.at(offset)
    const i = Math.floor(offset / 10)
    if (m?.offset !== i * 3 || m.skip !== offset - i * 10) wrong++
  }
  t.equal(wrong, 0)
  t.ok(map.size < 1100, `members held after the last lookup: ${map.size}`)
})

t.test('a gzip file of 3000 one-record members: every position right', async (t) => {
  const members: Buffer[] = []
  const starts: number[] = []
  let at = 0
  for (let i = 0; i < 3000; i++) {
    const member = zlib.gzipSync(encodeRecords([{ metadata: { i: String(i) }, payload: `record ${i}` }]), { level: 1 })
    members.push(member)
    starts.push(at)
    at += member.length
  }
  const stage = gunzipMembers()
  const records: ShoeboxRecord[] = []
  await pipeline(Readable.from([Buffer.concat(members)]), stage, decode({ positions: true, members: stage.members }), async (s: AsyncIterable<ShoeboxRecord>) => {
    for await (const r of s) records.push(r)
  })
  t.equal(records.length, 3000)
  t.same(records.filter((r, i) => r.position?.member?.offset !== starts[i] || r.position.member.skip !== 0).map((r) => r.metadata.i), [])
  t.ok(stage.members.size < 1100, 'the map forgot the members behind the decoder')
})
