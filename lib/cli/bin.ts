#!/usr/bin/env node
/** Entry point of the `shoebox` executable. */
import { processIo } from './io.js'
import { main } from './main.js'

// The AWS SDK warns on stderr that its 2027 releases will need Node 22: not
// this command's output, and nothing a user of it can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

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
