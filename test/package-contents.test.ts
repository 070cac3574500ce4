/**
 * What `npm pack` would publish, checked as a project that installs shoebox
 * would meet it: the file list from `npm pack --dry-run --json` (offline, no
 * scripts run), so it is dist/ as built now (`npm run build` first).
 * require-cjs.test.ts and examples.test.ts run the code; this checks the
 * tarball's contents and what its declarations need.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { ROOT } from './transpile.js'

const run = promisify(execFile)

interface PackageJson {
  main: string
  types: string
  bin: Record<string, string>
  exports: Record<string, string | { types: string, default: string }>
  dependencies: Record<string, string>
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson

const packed = (async (): Promise<Set<string>> => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 })
  const [report] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
  return new Set(report.files.map((file) => file.path))
})()

t.test('the tarball holds every entry point, its types and the bin', async (t) => {
  const files = await packed
  t.ok(files.has('dist/index.js'), 'dist/ is built (npm run build)')
  const wanted = [pkg.main, pkg.types, ...Object.values(pkg.bin)]
  for (const target of Object.values(pkg.exports)) {
    if (typeof target === 'string') wanted.push(target)
    else wanted.push(target.types, target.default)
  }
  const missing = wanted.map((file) => path.posix.normalize(file)).filter((file) => !files.has(file))
  t.same(missing, [], 'every main/types/bin/exports target is packed')
  t.same(['binding.gyp', 'scripts/build-native.js', 'native/addon.c', 'README.md'].filter((file) => !files.has(file)), [],
    'the install step and the native sources it builds are packed')
})

t.test('the tarball holds no tests, benchmarks, examples or scratch files', async (t) => {
  const files = await packed
  const unwanted = [...files].filter((file) => /^(test|bench|examples|tmp|build|node_modules|coverage|\.tap)\//.test(file) || /(^|\/)\.|\.test\.|\.tgz$/.test(file))
  t.same(unwanted, [])
})

/** Whether `name`, installed, carries its own declarations (or is one: @types/...). */
function hasOwnTypes (name: string): boolean {
  if (name.startsWith('@types/')) return true
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as Record<string, unknown>
  return manifest.types !== undefined || manifest.typings !== undefined || fs.existsSync(path.join(ROOT, 'node_modules', name, 'index.d.ts'))
}

t.test('every package the declarations import has its types among the dependencies', async (t) => {
  // A consumer installs dependencies only: a type from a devDependency's @types
  // becomes `any` (or TS7016 under skipLibCheck: false), and streams built on it
  // no longer fit node:stream's pipeline().
  const files = await packed
  const imported = new Set<string>()
  for (const file of [...files].filter((name) => name.endsWith('.d.ts'))) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8')
    for (const [, specifier] of text.matchAll(/(?:from |import\()\s*['"]([^'"]+)['"]/g)) {
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue
      const parts = specifier.split('/')
      imported.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0])
    }
  }
  t.ok(imported.has('better-sqlite3'), 'the scan finds the declarations\' imports')
  const untyped = [...imported].filter((name) => {
    if (!(name in pkg.dependencies)) return true
    if (hasOwnTypes(name)) return false
    const typesName = `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`
    return !(typesName in pkg.dependencies)
  })
  t.same(untyped, [], 'each is a dependency with its own types or an @types dependency')
})

t.test('every source map names files that are packed', async (t) => {
  // Node (--enable-source-maps), debuggers and bundlers' source-map loaders
  // follow a map to its sources; a source left out of the tarball is a
  // missing-file warning in every bundle and a stack frame naming no file.
  const files = await packed
  const maps = [...files].filter((file) => file.endsWith('.js.map'))
  t.ok(maps.length > 0, 'the build writes source maps')
  const unshipped = new Set<string>()
  for (const map of maps) {
    const { sources, sourceRoot } = JSON.parse(fs.readFileSync(path.join(ROOT, map), 'utf8')) as { sources: string[], sourceRoot?: string }
    for (const source of sources) {
      const file = path.posix.join(path.posix.dirname(map), sourceRoot ?? '', source)
      if (!files.has(file)) unshipped.add(file)
    }
  }
  t.same([...unshipped].slice(0, 5), [], 'sources missing from the tarball (the first 5)')
})

t.test('every packed dist/ file is built from a source in lib/', async (t) => {
  // tsc never deletes output: a module removed from lib/ lived on in dist/
  // and in every tarball packed from it, until the build cleared dist/ first.
  const files = await packed
  const stale = [...files].filter((file) => file.startsWith('dist/'))
    .filter((file) => !files.has(file.replace(/^dist\//, 'lib/').replace(/(\.d\.ts|\.js|\.js\.map)$/, '.ts')))
  t.same(stale, [], 'no output without its source (npm run build clears dist/)')
})
