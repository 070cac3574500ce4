// examples/metadir.js
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { metadir, metaIngest } from 'shoebox/meta'

// Publisher: metadata objects into the metadir's history (mmmeta's `generate`).
const scraped = [
  { content_hash: 'a1', title: 'Annual report', document_type: 'report', pages: 0 },
  { content_hash: 'b2', title: 'Supply contract', document_type: 'contract', pages: 12 }
]
await pipeline(Readable.from(scraped), metaIngest('archive'))

// Consumer: merge the history into the local state db, then work through what is new.
const md = await metadir('archive')
await md.update()
for await (const file of md.files.find({ document_type: 'contract', imported: null })) {
  console.log('importing', file.uid, file.get('title'))
  file.set('imported', true)
  await file.save()
}
console.log(await md.files.count({ imported: true }), 'imported')
md.close()
