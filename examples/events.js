// examples/events.js
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { kronos, serveEvents, ship } from 'shoebox/events'

// An event store in a directory, on a free loopback port (shoebox serve does the same).
const server = await serveEvents({ data: mkdtempSync(path.join(tmpdir(), 'events-')), port: 0 })

// Ship page views: batched, retried, and finished only once the server has them durably.
const views = ['/', '/pricing', '/docs'].map((page, i) => ({ page, '@time': Date.UTC(2026, 11, 3, 12, 0, i) * 10000 }))
await pipeline(Readable.from(views), ship(server.url, { stream: 'pageviews' }))

// Read them back by time range, in time order, as they stream in.
const client = kronos(server.url)
for await (const event of client.get('pageviews', '2026-12-03T00:00:00Z', '2026-12-04T00:00:00Z')) {
  console.log(event['@time'], event.page)
}
client.close()
await server.close()
