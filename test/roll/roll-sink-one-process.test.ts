/**
 * Several rolling sinks of one process on one directory. A temporary name
 * names the process, not the writer (.NAME~host~pid.part): two sinks planning
 * the same file name (a template without {seq} and the time, or the default
 * one within one millisecond) asked for the same temporary file, and the
 * second sink failed with EEXIST, taking the job down. Now the second takes
 * the name's next alternative, as sealing does for a taken final name.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, payloadText, rollingSink, type RecordInput, type RollingSinkOptions } from '../../lib/index.js'

function records (tag: string, n: number): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({ payload: `${tag}${i}` }))
}

async function readBack (dir: string): Promise<string[]> {
  const out: string[] = []
  for await (const record of archiveSource(path.join(dir, '*'))) out.push(payloadText(record))
  return out.sort()
}

for (const [what, options] of [
  ['a template without fields', { template: 'events.shoebox' }],
  ['the default template, one clock millisecond', { clock: () => Date.UTC(2026, 11, 5, 8, 0, 0) }]
] as Array<[string, Partial<RollingSinkOptions>]>) {
  t.test(`three sinks of one process on one directory, ${what}: every record kept once, none fails`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-one-process-'))
    t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
    const tags = ['a', 'b', 'c']
    const sealed: string[] = []
    await Promise.all(tags.map(async (tag) => {
      const sink = rollingSink({ dir, roll: { records: 50 }, ...options })
      sink.on('sealed', ({ path: file }: { path: string }) => { sealed.push(path.basename(file)) })
      await pipeline(Readable.from(records(tag, 200)), sink)
    }))
    const names = fs.readdirSync(dir)
    t.same(names.filter((name) => name.startsWith('.')), [], 'no temporary file left')
    t.equal(names.length, 12, 'four files a sink')
    t.same(names.sort(), sealed.sort(), 'each file once, as its sealed event named it')
    t.same(await readBack(dir), tags.flatMap((tag) => records(tag, 200).map((r) => r.payload as string)).sort(), 'every record, once')
  })
}
