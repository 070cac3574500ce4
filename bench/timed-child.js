/**
 * Child processes timed by GNU time (/usr/bin/time): their CPU seconds (user
 * + sys, children included) and peak RSS, per candidate name, beside the
 * wall time timeRoundRobin (util.js) takes. Shared by bench/zstd.js and
 * bench/many-files.js; spawnRun() by bench/write.js too.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

export const GNU_TIME = '/usr/bin/time'

/**
 * A runner whose GNU time output goes to a file in `dir`, and whose children
 * get `env`. `run(name, cmd, args, { stdinFile, stdoutFile, captureStdout })`
 * runs `cmd args` with stdin from `stdinFile`, stdout to `stdoutFile`,
 * captured, or /dev/null; fails unless it exits 0; resolves to { stdout,
 * stderr }. `usage` maps a name to { cpu: [s], rssMB: [MB] } of every run,
 * warm-up included (drop those before use).
 */
export function timedRunner ({ dir, env = process.env }) {
  const usage = new Map()
  const usageOf = (name) => {
    if (!usage.has(name)) usage.set(name, { cpu: [], rssMB: [] })
    return usage.get(name)
  }
  async function run (name, cmd, args, { stdinFile, stdoutFile, captureStdout = false } = {}) {
    const timeFile = path.join(dir, `.time-${process.pid}`)
    const r = await spawnRun(GNU_TIME, ['-f', '%U %S %M', '-o', timeFile, cmd, ...args], { stdinFile, stdoutFile, captureStdout, env })
    if (r.code !== 0) throw new Error(`${name} exited with ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 2000)}`)
    const [user, sys, maxKiB] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number)
    fs.rmSync(timeFile, { force: true })
    const u = usageOf(name)
    u.cpu.push(user + sys)
    u.rssMB.push(maxKiB * 1024 / 1e6)
    return r
  }
  return { run, usage }
}

/**
 * Spawn `cmd args`; stdin from `stdinFile` (or nothing), stdout to
 * `stdoutFile`, captured (`captureStdout`), or /dev/null. `onSpawn` gets the
 * child first (for RSS polling). Resolves to { code, signal, stdout, stderr }.
 */
export function spawnRun (cmd, args, { stdinFile, stdoutFile, captureStdout = false, env = process.env, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const inFd = stdinFile === undefined ? 'ignore' : fs.openSync(stdinFile, 'r')
    const outFd = stdoutFile === undefined ? (captureStdout ? 'pipe' : 'ignore') : fs.openSync(stdoutFile, 'w')
    let child
    try {
      child = spawn(cmd, args, { stdio: [inFd, outFd, 'pipe'], env })
    } finally {
      if (typeof inFd === 'number') fs.closeSync(inFd)
      if (typeof outFd === 'number') fs.closeSync(outFd)
    }
    onSpawn?.(child)
    let stderr = ''
    let stdout = ''
    child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
    if (captureStdout) child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s })
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}
