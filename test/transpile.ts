/**
 * A source file and everything it imports relatively, transpiled with
 * TypeScript's transpileModule into a directory, for tests that start real
 * processes: a child started with the TypeScript loader spends seconds
 * compiling before it does anything, and dist/ may be older than the sources.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

export const ROOT = fileURLToPath(new URL('../', import.meta.url))

/**
 * `js` with its source map inline, the map naming `source` by its absolute
 * URL: stack traces then point at the .ts file, and coverage (tap's, which
 * records child processes too) counts a child's lines against it.
 */
function withInlineMap (js: string, map: string, source: string): string {
  const parsed = JSON.parse(map) as { sources: string[], sourceRoot?: string }
  parsed.sources = [pathToFileURL(source).href]
  delete parsed.sourceRoot
  const inline = `//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(parsed)).toString('base64')}`
  return js.replace(/\/\/# sourceMappingURL=\S+\s*$/, inline + '\n')
}

/**
 * Transpile `entry` (a .ts path) and its relative imports into `outDir`,
 * mirroring the repo's layout; returns the entry's .js path. With
 * `sourceMaps`, each file carries its map inline (withInlineMap).
 */
export function transpileTree (entry: string, outDir: string, packageJson: Record<string, unknown> = {}, options: { sourceMaps?: boolean } = {}): string {
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
    const { outputText, sourceMapText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: options.sourceMaps === true }
    })
    const out = path.join(outDir, path.relative(ROOT, file)).replace(/\.ts$/, '.js')
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, sourceMapText === undefined ? outputText : withInlineMap(outputText, sourceMapText, file))
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
 * The directory is under the repository's tmp/ (git ignores it), not the
 * system's, and the files carry source maps, so that coverage counts the
 * children's lines for the .ts files they came from: tap's report leaves
 * out scripts outside the project, and maps a script to its source only
 * through a map.
 */
export function transpiledOnce (entry: string, packageJson: Record<string, unknown> = {}): string {
  let js = transpiled.get(entry)
  if (js === undefined) {
    fs.mkdirSync(path.join(ROOT, 'tmp'), { recursive: true })
    const dir = fs.mkdtempSync(path.join(ROOT, 'tmp', 'transpiled-'))
    process.once('exit', () => { fs.rmSync(dir, { recursive: true, force: true }) })
    js = transpileTree(entry, dir, packageJson, { sourceMaps: true })
    transpiled.set(entry, js)
  }
  return js
}
