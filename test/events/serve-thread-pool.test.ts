/**
 * `shoebox serve` (the executable, lib/cli/shoebox.cts) runs with a larger
 * libuv thread pool than Node's default of 4, for its log's fdatasyncs in
 * flight; a user's own UV_THREADPOOL_SIZE wins. Counted as the server
 * process's threads in /proc after a put (the pool starts all its threads
 * at its first job): only the pool differs between the runs.
 *
 * An ES module preloaded with --import starts the pool before the
 * executable runs (the README says so): tap puts its own in NODE_OPTIONS
 * of every child it sees spawned, so the server is started through a shell
 * that removes it.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { binary, post } from './conformance-kit.js'

async function threadsOfServe (t: Test, data: string, pool: string | undefined): Promise<number> {
  const script = `unset NODE_OPTIONS UV_THREADPOOL_SIZE; ${pool === undefined ? '' : `UV_THREADPOOL_SIZE=${pool} `}exec "$0" "$@"`
  const child = spawn('/bin/sh', ['-c', script, process.execPath, binary(), 'serve', '--port', '0', '--data', data], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString()
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m !== null) resolve(m[1])
      })
      void exited.then((code) => { reject(new Error(`shoebox serve exited (${String(code)}) before listening`)) })
    })
    const reply = await post(url, '/1.0/events/put', { events: { s: [{ '@time': 1, x: 'ü' }] } })
    t.equal(reply.status, 200, 'a put is answered (the pool has started)')
    return fs.readdirSync(`/proc/${child.pid as number}/task`).length
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

t.test('serve runs 6 pool threads unless UV_THREADPOOL_SIZE says otherwise', { skip: process.platform !== 'linux' && 'threads are counted in /proc' }, async (t) => {
  const dir = t.testdir()
  const userFour = await threadsOfServe(t, path.join(dir, 'a'), '4')
  const unset = await threadsOfServe(t, path.join(dir, 'b'), undefined)
  const userNine = await threadsOfServe(t, path.join(dir, 'c'), '9')
  t.equal(unset - userFour, 2, `unset: 6 pool threads (${unset} threads against ${userFour} with the user's 4)`)
  t.equal(userNine - userFour, 5, `the user's 9 wins (${userNine} threads)`)
})
