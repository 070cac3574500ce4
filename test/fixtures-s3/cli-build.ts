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
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN_TS = path.join(ROOT, 'lib', 'cli', 'bin.ts')

/** Transpile bin.ts and its relative imports into `outDir`; returns the path of bin.js. */
export function buildCli (outDir: string): string {
  const pending = [BIN_TS]
  const done = new Set<string>()
  while (pending.length > 0) {
    const file = pending.pop() as string
    if (done.has(file)) continue
    done.add(file)
    const source = fs.readFileSync(file, 'utf8')
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(path.resolve(path.dirname(file), m[1] + '.ts'))
    }
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true }
    })
    const out = path.join(outDir, path.relative(ROOT, file)).replace(/\.ts$/, '.js')
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, outputText)
  }
  // main.ts reads the version from ../../package.json.
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
  fs.writeFileSync(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module', version }) + '\n')
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir')
  return path.join(outDir, 'lib', 'cli', 'bin.js')
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
}

/**
 * Run the binary with `args`, `stdin` as its input and `env` added to a
 * clean environment (no AWS or SHOEBOX variables of the test's own, no
 * NODE_OPTIONS).
 */
export function runCli (bin: string, args: string[], options: { stdin?: Buffer | string, env?: Record<string, string>, cwd?: string } = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(AWS_|SHOEBOX_|NODE_OPTIONS$)/.test(k)) env[k] = v
  }
  // Keep credentials lookups away from the user's ~/.aws.
  env.AWS_CONFIG_FILE = '/nonexistent/shoebox-test-aws-config'
  env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/shoebox-test-aws-credentials'
  env.AWS_EC2_METADATA_DISABLED = 'true'
  Object.assign(env, options.env)
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
