// examples/sealed-callbacks.js
import fs from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { rollingSink } from 'shoebox'

const sink = rollingSink({ dir: 'events', roll: { records: 2 } })
sink.on('sealed', async ({ path }) => {
  await fs.promises.rename(path, path + '.done')                    // change extension
  // await fs.promises.rename(path, join('outbox', basename(path))) // move
  // await fs.promises.unlink(path)                                 // delete
  // execFile('upload-it', [path])                                  // run a command
})
await pipeline(Readable.from([{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }]), sink)
// The sink waited for its listeners: every file is renamed by now.
console.log(fs.readdirSync('events').filter((name) => !name.startsWith('.')).sort().join('\n'))
