/**
 * The built CLI run until a condition holds, then sent a signal: how the
 * interrupt tests stop a command while a request of its is under way.
 */
import { spawn } from 'node:child_process'
import { cliBinary } from './cli-build.js'

export interface InterruptedRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Run `shoebox ARGS` with `env` over this process's; once `ready()` holds (polled every 20 ms; or the child
 * exited, or 60 s passed), send it `signal`, and resolve when it has closed.
 */
export async function interruptCli (args: string[], ready: () => boolean, signal: NodeJS.Signals, env: Record<string, string>): Promise<InterruptedRun> {
  const child = spawn(process.execPath, [cliBinary(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => { resolve([code, sig]) }))
  const deadline = Date.now() + 60_000
  while (!ready() && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  child.kill(signal)
  const [code, sig] = await exited
  return { code, signal: sig, stdout, stderr }
}
