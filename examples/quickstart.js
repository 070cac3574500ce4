// The main job end to end on embedded defaults: events piped through a
// rolling, gzip-compressed archive sink into a local directory, then read
// back across all the files as one stream, every record checked.
// Run with `npm start` (after `npm install`, which builds dist/).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { archiveSource, payloadJson, rollingSink } from 'shoebox'

const COUNT = 100_000
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-quickstart-'))

function * events () {
  const kinds = ['order.created', 'order.paid', 'order.shipped', 'user.signup']
  for (let i = 0; i < COUNT; i++) {
    const event = kinds[i % kinds.length]
    yield {
      metadata: { event, seq: String(i) },
      payload: { id: i, event, at: new Date(1_700_000_000_000 + i * 1000).toISOString(), amount: (i * 37) % 1000, note: `order ${i} of customer ${i % 977}` }
    }
  }
}

const started = performance.now()
const sink = rollingSink({ dir, roll: { size: '1MiB' }, gzip: true })
const sealed = []
sink.on('sealed', (file) => sealed.push(file))
await pipeline(Readable.from(events()), sink)
const wrote = performance.now()

let read = 0
let checked = 0
await pipeline(archiveSource(path.join(dir, '*.shoebox.gz')), new Writable({
  objectMode: true,
  write (record, _encoding, callback) {
    const value = payloadJson(record)
    if (value.id === read && record.metadata.seq === String(read)) checked++
    read++
    callback()
  }
}))
const done = performance.now()

const bytes = sealed.reduce((n, f) => n + f.bytes, 0)
console.log(`shoebox quick start
  wrote ${COUNT} events into ${sealed.length} gzip archives in ${dir}
        ${bytes} bytes on disk (${(bytes / COUNT).toFixed(1)} bytes/event), ${(wrote - started).toFixed(0)} ms
  read  ${read} records back across all files as one stream, ${checked} in order and intact, ${(done - wrote).toFixed(0)} ms
  try:  npx shoebox ls '${path.join(dir, '*')}'
        npx shoebox read '${path.join(dir, '*')}' | head -3`)
if (checked !== COUNT) process.exitCode = 1
