#!/usr/bin/env node
/**
 * The `shoebox` executable (package.json "bin"): sizes libuv's thread pool
 * for `shoebox serve`, then runs bin.js. CommonJS, because the pool starts
 * at its first job and Node's ES module loader reads modules with it: by
 * the time any ES module of ours runs, the pool has its size.
 *
 * `shoebox serve` runs its event store's log with fdatasyncs on several
 * descriptors at once, one pool thread each (write-ahead-log.ts,
 * syncsInFlight()): with libuv's default of 4 threads two syncs at most can
 * run, beside the log's writes and the flush's files. A user's own
 * UV_THREADPOOL_SIZE always wins.
 */
const SERVE_THREAD_POOL = 6

if (process.argv[2] === 'serve' && process.env.UV_THREADPOOL_SIZE === undefined) {
  process.env.UV_THREADPOOL_SIZE = String(SERVE_THREAD_POOL)
}

import('./bin.js').catch((err: unknown) => {
  process.stderr.write(`shoebox: internal error: ${String(err)}\n`)
  process.exitCode = 1
})
