/**
 * Runs the CLI as a user would. `cli()` runs main() in this process with
 * in-memory standard streams (fast, and it is the same code the binary runs);
 * `cliProcess()` spawns a real process from source for what only a process
 * shows (exit codes, pipes closing early).
 */
import { spawn } from 'node:child_process'
import { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { main } from '../lib/cli/main.js'

export const BIN = fileURLToPath(new URL('../lib/cli/bin.ts', import.meta.url))

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

export async function cli (args: string[], stdin: Buffer | string = ''): Promise<CliResult> {
  const out: Buffer[] = []
  const err: Buffer[] = []
  const code = await main(args, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: collector(out),
    stderr: collector(err)
  })
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }
}

export function cliProcess (args: string[], stdin: Buffer | string = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
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
