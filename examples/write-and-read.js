// examples/write-and-read.js
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { rollingSink, archiveSource } from 'shoebox'

// any Readable of { metadata, payload } records will do; here, three orders
const eventSource = Readable.from([1, 2, 3].map((id) => ({ metadata: { event: 'order.paid' }, payload: { id, amount: id * 10 } })))

// write: records into 100 MiB gzip files, a new one at least every 10 minutes
const sink = rollingSink({ dir: 'events', roll: { size: '100MiB', age: '10m' }, gzip: true })
sink.on('sealed', (file) => console.log('sealed', file.path, file.records, 'records'))
await pipeline(eventSource, sink)

// read: every file back as one stream, in write order
for await (const record of archiveSource('events/*.shoebox.gz')) {
  console.log(record.metadata, JSON.parse(record.payload))
}
