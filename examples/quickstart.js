// The main job end to end on embedded defaults: events piped through encode()
// into an archive file, read back with decode(), every record checked.
// Run with `npm start` (after `npm install`, which builds dist/).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { decode, encode, payloadJson } from '../dist/index.js'

const COUNT = 50_000
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-quickstart-'))
const file = path.join(dir, 'events.shoebox')

function * events () {
  const kinds = ['order.created', 'order.paid', 'order.shipped', 'user.signup']
  for (let i = 0; i < COUNT; i++) {
    const event = kinds[i % kinds.length]
    yield {
      metadata: { event, seq: String(i) },
      payload: { id: i, event, at: new Date(1_700_000_000_000 + i * 1000).toISOString(), amount: (i * 37) % 1000 }
    }
  }
}

const started = performance.now()
await pipeline(Readable.from(events()), encode(), fs.createWriteStream(file))
const wrote = performance.now()

let read = 0
let checked = 0
await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), decode(), new Writable({
  objectMode: true,
  write (record, _encoding, callback) {
    const value = payloadJson(record)
    if (value.id === read && record.metadata.seq === String(read)) checked++
    read++
    callback()
  }
}))
const done = performance.now()

const bytes = fs.statSync(file).size
console.log(`shoebox quick start
  wrote ${COUNT} events to ${file}
        ${bytes} bytes, ${(bytes / COUNT).toFixed(0)} bytes/record, ${(wrote - started).toFixed(0)} ms
  read  ${read} records back, ${checked} matched what was written, every checksum verified, ${(done - wrote).toFixed(0)} ms
  try:  npx shoebox verify ${file}
        npx shoebox decode ${file} | head -3`)
if (checked !== COUNT) process.exitCode = 1
