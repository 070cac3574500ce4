/**
 * The `shoebox` binary from the current sources, for tests that need a real
 * process (exit codes, exactly what reaches stderr, SIGKILL): lib/cli/bin.ts
 * and everything it imports, transpiled once into a temporary directory with
 * TypeScript's transpileModule (as test/fixtures-roll/util.ts does for its
 * writer). Not dist/, which may be older than the sources; and not the
 * TypeScript loader, which spends seconds compiling in every child.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT, transpiledOnce, transpileTree } from '../transpile.js'

const BIN_TS = path.join(ROOT, 'lib', 'cli', 'bin.ts')

/** The package.json the transpiled tree needs: main.ts reads the version from ../../package.json. */
function packageJson (): { version: string } {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
  return { version }
}

/**
 * Transpile bin.ts and its relative imports into `outDir`; returns the path of
 * bin.js. For a test that needs a copy of its own (one another user can
 * read); the others use cliBinary(), whose tree has the native addon linked
 * beside it.
 */
export function buildCli (outDir: string): string {
  return transpileTree(BIN_TS, outDir, packageJson())
}

/** bin.js from the current sources, built once per test process on first use; its children's lines count in coverage (transpiledOnce). */
export function cliBinary (): string {
  return transpiledOnce(BIN_TS, packageJson())
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
}

/**
 * A clean environment for a child shoebox process, with `extra` added: no AWS
 * or SHOEBOX variables of the test's own, no NODE_OPTIONS, and credential
 * lookups kept away from the user's ~/.aws.
 */
export function cliEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(AWS_|SHOEBOX_|NODE_OPTIONS$)/.test(k)) env[k] = v
  }
  env.AWS_CONFIG_FILE = '/nonexistent/shoebox-test-aws-config'
  env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/shoebox-test-aws-credentials'
  env.AWS_EC2_METADATA_DISABLED = 'true'
  return Object.assign(env, extra)
}

/** Run the binary with `args`, `stdin` as its input and `env` added to a clean environment (cliEnv). */
export function runCli (bin: string, args: string[], options: { stdin?: Buffer | string, env?: Record<string, string>, cwd?: string } = {}): Promise<RunResult> {
  const env = cliEnv(options.env)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env, cwd: options.cwd })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.stdin ?? '')
  })
}
