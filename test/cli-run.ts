/**
 * Runs the CLI as a user would. `cli()` runs main() in this process with
 * in-memory standard streams (fast, and it is the same code the binary runs);
 * `cliProcess()` spawns a real process of the binary transpiled from the
 * current sources (cliBinary) for what only a process shows (exit codes,
 * pipes closing early).
 */
import { spawn } from 'node:child_process'
import { Readable, Writable } from 'node:stream'
import { main } from '../lib/cli/main.js'

export interface CliResult {
  code: number | null
  stdout: Buffer
  stderr: string
}

function collector (sink: Buffer[]): Writable {
  return new Writable({
    write (chunk: Buffer, _encoding, callback) {
      sink.push(Buffer.from(chunk))
      callback()
    }
  })
}

/** stdin is one chunk, or the chunks given (a pipe's reads: a long line comes in many). */
export async function cli (args: string[], stdin: Buffer | string | Buffer[] = ''): Promise<CliResult> {
  const out: Buffer[] = []
  const err: Buffer[] = []
  const code = await main(args, {
    stdin: Readable.from(Array.isArray(stdin) ? stdin : [Buffer.from(stdin)]),
    stdout: collector(out),
    stderr: collector(err)
  })
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }
}

export async function cliProcess (args: string[], stdin: Buffer | string = ''): Promise<CliResult> {
  // Imported here, not above: it loads TypeScript's compiler, which the many tests that only use cli() do without.
  const { cliBinary } = await import('./fixtures-s3/cli-build.js')
  const bin = cliBinary()
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => {
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') })
    })
    child.stdin.on('error', () => {}) // a child that exits early closes its stdin
    child.stdin.end(stdin)
  })
}

/** The NDJSON lines a `decode` printed, parsed. */
export function jsonLines (stdout: Buffer): unknown[] {
  return stdout.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown)
}
