// What a follower costs once it has read a big directory and sits idle:
// live heap after a collection, and CPU per poll (each poll lists, so each
// readdir of the directory marks one).
//
//   node --expose-gc bench/follow-idle.js DIR [POLLS] [DIST]
//
// DIR holds N one-record files (`shoebox write DIR --roll-records 1 --fsync
// never`); DIST is the build to measure (default ../dist; an old build copied
// elsewhere for A/B). Prints one line: N, heap MB after gc, CPU ms per poll
// (user+sys, the mean of POLLS polls, default 10), wall ms per poll.
import fsp from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [given, pollsArg = '10', dist = new URL('../dist/', import.meta.url).pathname] = process.argv.slice(2)
const polls = Number(pollsArg)
const { archiveSource } = await import(pathToFileURL(path.join(path.resolve(dist), 'index.js')).href)
const names = (await fsp.readdir(given)).filter((n) => !n.startsWith('.'))
const expected = names.length
// FOLLOW_SEALED=1: the files appear as a shoebox writer seals them while followed: under their temporary
// names first (hard links in DIR.sealed, which the follower's first listing sees), then linked into place.
const sealed = process.env.FOLLOW_SEALED === '1'
const dir = sealed ? `${given}.sealed` : given
const temp = (name) => path.join(dir, `.${name}~bench~1.part`)
if (sealed) {
  await fsp.rm(dir, { recursive: true, force: true })
  await fsp.mkdir(dir)
  for (const name of names) await fsp.link(path.join(given, name), temp(name))
}

// One mark per listing: the walk reads the directory once a poll.
const marks = []
const readdir = fsp.readdir
fsp.readdir = async function (...args) {
  marks.push({ cpu: process.cpuUsage(), at: performance.now() })
  return await readdir.apply(this, args)
}

const source = archiveSource(path.join(dir, '*'), { follow: true, pollInterval: '1s' })
let records = 0
if (sealed) {
  setTimeout(async () => {
    for (const name of names) {
      await fsp.link(temp(name), path.join(dir, name))
      await fsp.unlink(temp(name))
    }
  }, 1500)
}
const t0 = performance.now()
await new Promise((resolve, reject) => {
  source.on('data', () => { if (++records === expected) resolve() })
  source.once('error', reject)
})
const readMs = performance.now() - t0
// Idle: the least live heap of collections 250 ms apart over 3 s, so that one falls between two listings
// (a listing of 50,000 files takes longer than the pause, and holds its own copy of every name meanwhile).
let heap = Infinity
for (let i = 0; i < 12; i++) {
  await new Promise((resolve) => setTimeout(resolve, 250))
  globalThis.gc()
  heap = Math.min(heap, process.memoryUsage().heapUsed)
}
// FOLLOW_PROFILE=out.cpuprofile: a CPU profile of the idle polls alone (bench/cpuprofile-top.js reads it).
const profile = process.env.FOLLOW_PROFILE
const session = profile === undefined ? undefined : new (await import('node:inspector/promises')).Session()
if (session !== undefined) {
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
}
const first = marks.length
await new Promise((resolve) => {
  const timer = setInterval(() => {
    if (marks.length >= first + polls) {
      clearInterval(timer)
      resolve()
    }
  }, 50)
})
const a = marks[first]
const b = marks[first + polls - 1]
const cpuMs = ((b.cpu.user - a.cpu.user) + (b.cpu.system - a.cpu.system)) / 1000 / (polls - 1)
const wallMs = (b.at - a.at) / (polls - 1)
source.destroy()
if (sealed) await fsp.rm(dir, { recursive: true, force: true })
if (session !== undefined) await fsp.writeFile(profile, JSON.stringify((await session.post('Profiler.stop')).profile))
console.log(JSON.stringify({ files: expected, readS: +(readMs / 1000).toFixed(1), heapMB: +(heap / 1e6).toFixed(1), cpuMsPerPoll: +cpuMs.toFixed(1), wallMsPerPoll: +wallMs.toFixed(0) }))
