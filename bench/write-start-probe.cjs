/**
 * Preload (`node -r bench/write-start-probe.cjs dist/cli/bin.js write ...`) that says when `shoebox write` first
 * reads stdin: for a regular file on stdin its first two fs.read() calls of fd 0 (the head read before the sink
 * exists, then the feed once the sink has started), for a pipe the first two chunks process.stdin gets. At exit
 * one line on stderr: `PROBE <first> <second> <exit> CPU <first> <second> <exit>`, each in ms since the process
 * started (performance.now()) and as the process's CPU ms (user + sys, all threads) at that moment. The CPU
 * figures hold on a loaded machine, where the wall times mostly say how long the process waited for a core.
 * bench/write-start-ab.sh runs it over builds interleaved.
 */
'use strict'
// A preload for node -r, before any ES module loads (an --import one would start the ES loader earlier): CommonJS.
/* eslint-disable @typescript-eslint/no-require-imports */
const fs = require('node:fs')
const { performance } = require('node:perf_hooks')
const { Readable } = require('node:stream')

const times = []
const cpus = []
const cpu = () => {
  const u = process.cpuUsage()
  return ((u.user + u.system) / 1000).toFixed(1)
}
const mark = () => {
  if (times.length >= 2) return
  times.push(performance.now().toFixed(1))
  cpus.push(cpu())
}
const read = fs.read
fs.read = function (...args) {
  if (args[0] === 0) mark()
  return read.apply(this, args)
}
const push = Readable.prototype.push
Readable.prototype.push = function (chunk, encoding) {
  if (chunk !== null && this._handle?.fd === 0) mark()
  return push.call(this, chunk, encoding)
}
process.on('exit', () => {
  process.stderr.write(`PROBE ${times.join(' ')} ${performance.now().toFixed(1)} CPU ${cpus.join(' ')} ${cpu()}\n`)
})
