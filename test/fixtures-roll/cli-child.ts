/**
 * The `shoebox` binary from the current sources as a child process, for the
 * tests that need one: another user (permission bits mean nothing to root),
 * a preload (an injected fault or clock), stdin kept open between batches.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
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
  /**
   * Directories the child sees on a read-only mount: each bound read-only
   * onto itself in a mount namespace of the child's own (unshare(1) -rm,
   * which needs no privilege where user namespaces are allowed). Nothing
   * outside the child sees the mount, and it ends with the child.
   */
  readOnly?: string[]
}

/** Bind each directory before `--` read-only onto itself, then run the rest. */
const MOUNT_READ_ONLY = 'set -e; while [ "$1" != -- ]; do mount --bind -o ro "$1" "$1"; shift; done; shift; exec "$@"'

/**
 * `argv` run where each of `dirs` is a read-only mount, in a mount namespace
 * of its own (unshare -rm: no privilege needed where user namespaces are
 * allowed); nothing outside sees the mounts. The command execs into `argv`:
 * one process, signals reach it.
 */
export function onReadOnlyMounts (dirs: readonly string[], argv: readonly string[]): string[] {
  return ['unshare', '-rm', 'sh', '-c', MOUNT_READ_ONLY, 'sh', ...dirs, '--', ...argv]
}

/** Every file under `dir` with its bytes (base64), by path relative to it: what a read-only run must leave as it was. */
export function treeContents (dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, name)
    if (fs.statSync(file).isFile()) out[name] = fs.readFileSync(file).toString('base64')
  }
  return out
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

/** Start `bin` (cliBinary() or buildCli()) with `args`; stdin stays open for the test to write and end. */
export function startCli (t: Teardown, bin: string, args: string[], options: ChildOptions = {}): CliChild {
  const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }
  // Through env(1) without NODE_OPTIONS: tap's spawn hook adds its process-tracking
  // import there, which writes into the checkout at exit (refused to another user).
  const argv = ['env', '-u', 'NODE_OPTIONS', process.execPath, ...(options.nodeArgs ?? []), bin, ...args]
  const [command, ...rest] = options.readOnly === undefined ? argv : onReadOnlyMounts(options.readOnly, argv)
  const child = spawn(command, rest, { stdio: ['pipe', 'pipe', 'pipe'], env: cliEnv(options.env), ...ids })
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

/**
 * Throw, saying why, unless every directory on the way to `target` lets other
 * users through (a child run as another user must reach the built CLI and the
 * checkout's node_modules): a clear failure rather than a confusing one.
 */
export function checkReachableByOthers (target: string): void {
  const file = fs.realpathSync(target)
  // The file itself must be readable by others; each directory above it searchable.
  const closed = (p: string, bits: number): boolean => (fs.statSync(p).mode & bits) !== bits
  for (let p = file, bits = 0o004; ; p = path.dirname(p), bits = 0o001) {
    if (closed(p, bits)) {
      throw new Error(`${p} is closed to other users: these tests run the CLI as an unprivileged user, so run them from a checkout others can read`)
    }
    if (path.dirname(p) === p) return
  }
}
