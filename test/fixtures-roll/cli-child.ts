/**
 * The `shoebox` binary from the current sources as a child process, for the
 * tests that need one: another user (permission bits mean nothing to root),
 * a preload (an injected fault or clock), stdin kept open between batches.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { cliEnv } from '../fixtures-s3/cli-build.js'
import type { Teardown } from './util.js'

export interface ChildOptions {
  /** Run as this user (and group of the same number). */
  uid?: number
  /** Flags for node itself, e.g. ['--import', url]. */
  nodeArgs?: string[]
  /** Added to a clean environment (cliEnv). */
  env?: Record<string, string>
}

export interface ChildResult {
  code: number | null
  pid: number
  stdout: Buffer
  stderr: string
}

export interface CliChild {
  child: ChildProcessByStdio<Writable, Readable, Readable>
  pid: number
  done: Promise<ChildResult>
}

/** Start `bin` (built by buildCli) with `args`; stdin stays open for the test to write and end. */
export function startCli (t: Teardown, bin: string, args: string[], options: ChildOptions = {}): CliChild {
  const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }
  // Through env(1) without NODE_OPTIONS: tap's spawn hook adds its process-tracking
  // import there, which writes into the checkout at exit (refused to another user).
  const argv = ['-u', 'NODE_OPTIONS', process.execPath, ...(options.nodeArgs ?? []), bin, ...args]
  const child = spawn('env', argv, { stdio: ['pipe', 'pipe', 'pipe'], env: cliEnv(options.env), ...ids })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const pid = child.pid ?? -1
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => err.push(b))
  child.stdin.on('error', () => {}) // a child that exits early closes its stdin
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      resolve({ code, pid, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') })
    })
  })
  return { child, pid, done }
}

/** Run `bin` with `args` and all of `stdin`, to the end. */
export async function runCli (t: Teardown, bin: string, args: string[], stdin: string, options: ChildOptions = {}): Promise<ChildResult> {
  const { child, done } = startCli(t, bin, args, options)
  child.stdin.end(stdin)
  return await done
}
