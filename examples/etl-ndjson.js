// examples/etl-ndjson.js
import fs from 'node:fs'
import zlib from 'node:zlib'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { encodeNdjson } from 'shoebox'

const url = process.argv[2] ?? 'http://127.0.0.1:8080/crm/events.ndjson'
const response = await fetch(url)
if (!response.ok || response.body === null) throw new Error(`${url}: HTTP ${response.status}`)

await pipeline(
  Readable.fromWeb(response.body),               // NDJSON from anywhere
  encodeNdjson({ metadata: { source: 'crm' }, metadataFromFields: { type: 'event_type' } }),
  zlib.createGzip(),
  fs.createWriteStream('crm.shoebox.gz')
)
