#!/usr/bin/env node
/** Entry point of the `shoebox` executable. */
import { processIo } from './io.js'
import { main } from './main.js'

// The AWS SDK warns on stderr that its 2027 releases will need Node 22: not
// this command's output, and nothing a user of it can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const io = processIo()
io.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // A reader that went away (e.g. `| head`) is not a failure of ours: the data it no longer wants is not made.
  // A command whose stdout only reports its work (upload) finishes the work, and exits as the work did.
  if (err.code === 'EPIPE' && io.stdoutIsReport !== true) process.exit(0)
})
// A failed write to stderr (its reader gone: `shoebox write 2>&1 | head -1`) has nowhere to be reported,
// and left unhandled it became an uncaught error that replaced the exit code (a usage error's 2 became 1).
// The exit code is the command's, whoever reads stderr.
process.stderr.on('error', () => {})
main(process.argv.slice(2), io).then((code) => {
  process.exitCode = code
  exitOnceIdle()
}, (err: unknown) => {
  process.stderr.write(`shoebox: internal error: ${String(err)}\n`)
  process.exitCode = 1
})

/**
 * A command that has finished exits as soon as nothing is left to run.
 * Left to end by itself, the process would then also tear down its heap,
 * buffer by buffer, and the thread pools: after `shoebox write` of 200 MB
 * that took ~9 ms between the summary line and the exit (bench/RESULTS.md,
 * seventh pass). 'beforeExit' is the moment: Node emits it once the event
 * loop has run dry, i.e. every write, fsync and close the command started
 * has completed (output to a slow pipe included). Not when someone else
 * listens for it (ship flushes there and may start more work).
 */
function exitOnceIdle (): void {
  if (process.listenerCount('beforeExit') === 0) process.once('beforeExit', () => { process.exit() })
}
