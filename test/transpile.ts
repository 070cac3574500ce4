/**
 * A source file and everything it imports relatively, transpiled with
 * TypeScript's transpileModule into a directory, for tests that start real
 * processes: a child started with the TypeScript loader spends seconds
 * compiling before it does anything, and dist/ may be older than the sources.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

export const ROOT = fileURLToPath(new URL('../', import.meta.url))

/** The repository's tmp/ (git ignores it): the transpiled trees here, and the tests' temporary directories (temp-dir.ts). */
export const TEST_TMP = path.join(ROOT, 'tmp')

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

/** `entry` (a .ts path) and every file it imports relatively, with their sources. */
function sourceTree (entry: string): Map<string, string> {
  const tree = new Map<string, string>()
  const pending = [entry]
  while (pending.length > 0) {
    const file = pending.pop() as string
    if (tree.has(file)) continue
    const source = fs.readFileSync(file, 'utf8')
    tree.set(file, source)
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(path.resolve(path.dirname(file), m[1] + '.ts'))
    }
  }
  return tree
}

/** Write `tree` transpiled into `outDir` (see transpileTree); returns the entry's .js path. */
function writeTree (entry: string, tree: Map<string, string>, outDir: string, packageJson: Record<string, unknown>, sourceMaps: boolean): string {
  for (const [file, source] of tree) {
    const { outputText, sourceMapText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: sourceMaps }
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

/**
 * Transpile `entry` (a .ts path) and its relative imports into `outDir`,
 * mirroring the repo's layout; returns the entry's .js path. With
 * `sourceMaps`, each file carries its map inline (withInlineMap).
 */
export function transpileTree (entry: string, outDir: string, packageJson: Record<string, unknown> = {}, options: { sourceMaps?: boolean } = {}): string {
  return writeTree(entry, sourceTree(entry), outDir, packageJson, options.sourceMaps === true)
}

const transpiled = new Map<string, string>()

/** How long a transpiled tree of older sources is kept beside the current one (a test run still using it). */
const KEEP_OLD_MS = 2 * 60 * 60 * 1000

/**
 * transpileTree() of `entry` with source maps, made once for all the test
 * processes that ask for the same sources: into ROOT/tmp/transpiled-NAME-HASH,
 * HASH being that of every source file, the package.json given and the
 * TypeScript version. The first process to ask transpiles into a directory
 * of its own and renames it into place (a process that loses the race uses
 * the winner's); the others find it made. Transpiling the CLI took 1-3 s,
 * which each of ~30 test files paid before. The trees of older sources are
 * removed once they are KEEP_OLD_MS old. The native part (build/) is
 * linked in, as it lies beside an installed package's code.
 *
 * Under the repository's tmp/ (git ignores it), not the system's, and with
 * source maps, so that coverage counts the children's lines for the .ts files
 * they came from: tap's report leaves out scripts outside the project, and
 * maps a script to its source only through a map.
 */
export function transpiledOnce (entry: string, packageJson: Record<string, unknown> = {}): string {
  let js = transpiled.get(entry)
  if (js === undefined) {
    const tree = sourceTree(entry)
    const hash = createHash('sha256').update(ts.version).update(JSON.stringify(packageJson))
    for (const [file, source] of [...tree].sort(([a], [b]) => a < b ? -1 : 1)) hash.update(`\0${path.relative(ROOT, file)}\0${source}`)
    const tmp = TEST_TMP
    const prefix = `transpiled-${path.basename(entry, '.ts')}-`
    const dir = path.join(tmp, prefix + hash.digest('hex').slice(0, 16))
    js = path.join(dir, path.relative(ROOT, entry)).replace(/\.ts$/, '.js')
    if (!fs.existsSync(path.join(dir, '.complete'))) {
      fs.mkdirSync(tmp, { recursive: true })
      const making = fs.mkdtempSync(path.join(tmp, 'transpiling-'))
      writeTree(entry, tree, making, packageJson, true)
      // The native part beside the tree, as beside an installed package's dist/: the children then run as the
      // install does (libzstd, batched small-file reads, sync_file_range), not as one where it could not be built.
      const build = path.join(ROOT, 'build')
      if (fs.existsSync(build)) fs.symlinkSync(build, path.join(making, 'build'), 'dir')
      fs.writeFileSync(path.join(making, '.complete'), '')
      try {
        fs.renameSync(making, dir)
      } catch (err) {
        // Another test process made it first (the target exists and is not empty): use theirs.
        fs.rmSync(making, { recursive: true, force: true })
        if (!fs.existsSync(path.join(dir, '.complete'))) throw err
      }
      removeOlderTrees(tmp, prefix, dir)
    }
    transpiled.set(entry, js)
  }
  return js
}

/** The other trees of `prefix` in `tmp` (older sources), and trees a killed process left half made, changed over KEEP_OLD_MS ago. */
function removeOlderTrees (tmp: string, prefix: string, current: string): void {
  for (const name of fs.readdirSync(tmp)) {
    const dir = path.join(tmp, name)
    if (!(name.startsWith(prefix) || name.startsWith('transpiling-')) || dir === current) continue
    const age = Date.now() - (fs.statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
    if (age > KEEP_OLD_MS) fs.rmSync(dir, { recursive: true, force: true })
  }
}
