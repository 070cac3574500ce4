/**
 * A source file and everything it imports relatively, transpiled with
 * TypeScript's transpileModule into a directory, for tests that start real
 * processes: a child started with the TypeScript loader spends seconds
 * compiling before it does anything, and dist/ may be older than the sources.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const ROOT = fileURLToPath(new URL('../', import.meta.url))

/** Transpile `entry` (a .ts path) and its relative imports into `outDir`, mirroring the repo's layout; returns the entry's .js path. */
export function transpileTree (entry: string, outDir: string, packageJson: Record<string, unknown> = {}): string {
  const pending = [entry]
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
  fs.writeFileSync(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module', ...packageJson }) + '\n')
  // A second entry transpiled into the same directory shares the first one's link.
  const modules = path.join(outDir, 'node_modules')
  if (!fs.existsSync(modules)) fs.symlinkSync(path.join(ROOT, 'node_modules'), modules, 'dir')
  return path.join(outDir, path.relative(ROOT, entry)).replace(/\.ts$/, '.js')
}

const transpiled = new Map<string, string>()

/**
 * transpileTree() of `entry`, done once per test process on first use, into a
 * temporary directory removed as the process exits: for helpers whose every
 * call starts a child, so that only the first call pays for transpiling.
 */
export function transpiledOnce (entry: string, packageJson: Record<string, unknown> = {}): string {
  let js = transpiled.get(entry)
  if (js === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-transpiled-'))
    process.once('exit', () => { fs.rmSync(dir, { recursive: true, force: true }) })
    js = transpileTree(entry, dir, packageJson)
    transpiled.set(entry, js)
  }
  return js
}
