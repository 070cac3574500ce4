// examples/ship-to-s3.js
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { rollingSink, archiveSource } from 'shoebox'

const eventSource = Readable.from([1, 2, 3].map((id) => ({ metadata: { event: 'order.paid' }, payload: { id } })))

const sink = rollingSink({
  dir: 'events', roll: { size: '64MiB' }, gzip: true,
  upload: { to: 's3://my-bucket/events', deleteLocal: true }
})
sink.on('upload', ({ key, bytes, ms }) => console.log('uploaded', key, bytes, 'bytes in', ms, 'ms'))
await pipeline(eventSource, sink)            // finishes once every file is uploaded and verified

for await (const record of archiveSource('s3://my-bucket/events/*.shoebox.gz')) {
  console.log(record.metadata.event, JSON.parse(record.payload).id)
}
