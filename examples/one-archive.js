// examples/one-archive.js
import fs from 'node:fs'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { encode, decode, payloadJson } from 'shoebox'

// write: records in, archive bytes out
const events = [{ metadata: { event: 'order.paid' }, payload: { id: 1, amount: 42 } }]
await pipeline(Readable.from(events), encode(), fs.createWriteStream('events.shoebox'))

// read: archive bytes in, records out
await pipeline(
  fs.createReadStream('events.shoebox', { highWaterMark: 1 << 20 }),
  decode(),
  new Writable({ objectMode: true, write (record, _enc, done) {
    console.log(record.metadata.event, payloadJson(record))
    done()
  } })
)
