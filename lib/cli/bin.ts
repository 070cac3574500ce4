#!/usr/bin/env node
/** Entry point of the `shoebox` executable. */
import { processIo } from './io.js'
import { main } from './main.js'

const io = processIo()
io.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // A reader that went away (e.g. `| head`) is not a failure of ours.
  if (err.code === 'EPIPE') process.exit(0)
})
main(process.argv.slice(2), io).then((code) => {
  process.exitCode = code
}, (err: unknown) => {
  process.stderr.write(`shoebox: internal error: ${String(err)}\n`)
  process.exitCode = 1
})
