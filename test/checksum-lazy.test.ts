/**
 * @node-rs/crc32 (a native binary that costs about as much to load as
 * Node's own start) loads on the first checksum, not when the package is
 * imported (lib/checksum.ts). Each case is a fresh process importing the
 * package transpiled from the current sources; it reports which of its
 * loaded CommonJS modules (the binding is CommonJS) have '@node-rs/crc32' in
 * their path at each step, and the checksums it computed once loaded.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import t from 'tap'
import { ROOT, transpileTree } from './transpile.js'

const run = promisify(execFile)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-lazy-crc-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const index = transpileTree(path.join(ROOT, 'lib', 'index.ts'), path.join(tmp, 'pkg'))
const checksumModule = path.join(path.dirname(index), 'checksum.js')

/**
 * Run an ES module (no top-level await) that imports the package and the
 * checksum module, then runs `body`, which may call `seen(step)` to record
 * whether the binding is loaded at that point; prints the record as JSON.
 */
async function script (name: string, body: string): Promise<Record<string, unknown>> {
  const file = path.join(tmp, name)
  fs.writeFileSync(file, `import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const out = {}
const seen = (step) => { out[step] = Object.keys(require.cache).some((f) => f.includes(${JSON.stringify(path.join('@node-rs', 'crc32'))})) }
Promise.all([import(${JSON.stringify(pathToFileURL(index).href)}), import(${JSON.stringify(pathToFileURL(checksumModule).href)})])
  .then(async ([lib, checksum]) => {
    seen('afterImport')
${body}
    console.log(JSON.stringify(out))
  }).catch((err) => { console.error(err); process.exitCode = 1 })
`)
  const { stdout, stderr } = await run(process.execPath, [file], { cwd: tmp })
  t.equal(stderr, '', `${name}: nothing on stderr`)
  return JSON.parse(stdout) as Record<string, unknown>
}

t.test('importing the package loads no @node-rs/crc32; the first crc32() does, with the same results', async (t) => {
  const data = Buffer.alloc(4099)
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff
  const out = await script('first-crc32.mjs', `
    out.crc32 = lib.crc32(Buffer.from('123456789'))
    seen('afterCrc32')
    out.crc32c = lib.crc32c(Buffer.from('123456789'))
    const data = Buffer.alloc(4099)
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff
    out.lengths = []
    for (const len of [0, 1, 7, 8, 9, 63, 64, 65, 4096, 4099]) out.lengths.push([lib.crc32(data.subarray(0, len)), lib.crc32(data.subarray(3, 3 + Math.min(len, 4096)))])
    out.continued = checksum.crc32Continue(lib.crc32(data.subarray(0, 1000)), data.subarray(1000))
    out.implementation = checksum.checksumImplementation()`)
  t.equal(out.afterImport, false, 'not loaded by the import')
  t.equal(out.afterCrc32, true, 'loaded by the first crc32() (so the check can see it)')
  t.equal(out.crc32, 0xcbf43926)
  t.equal(out.crc32c, 0xe3069283)
  t.same(out.lengths, [0, 1, 7, 8, 9, 63, 64, 65, 4096, 4099].map((len) => [zlib.crc32(data.subarray(0, len)), zlib.crc32(data.subarray(3, 3 + Math.min(len, 4096)))]))
  t.equal(out.continued, zlib.crc32(data))
  t.equal(out.implementation, '@node-rs/crc32', 'the native module is the one in use')
})

t.test('the first crc32c(), crc32Continue() or record checksum loads it too', async (t) => {
  const out = await script('other-entries.mjs', `
    out.crc32c = lib.crc32c(Buffer.from('123456789'))
    seen('afterCrc32c')`)
  t.same(out, { afterImport: false, crc32c: 0xe3069283, afterCrc32c: true })

  const cont = await script('continue.mjs', `
    out.continued = checksum.crc32Continue(0, Buffer.from('123456789'))
    seen('afterContinue')`)
  t.same(cont, { afterImport: false, continued: 0xcbf43926, afterContinue: true })

  // Encoding and decoding checksum each record (checksumRange): the archive
  // written is byte for byte what zlib's CRC32 gives, and decodes intact.
  const codec = await script('codec.mjs', `
    const { Readable } = await import('node:stream')
    const bytes = lib.encodeRecords([{ metadata: { k: 'v' }, payload: 'one' }, { payload: Buffer.alloc(300, 7) }], { checksum: 'crc32c' })
    seen('afterEncode')
    out.records = []
    for await (const r of Readable.from([bytes]).pipe(lib.decode())) out.records.push([r.metadata, r.payload.length])`)
  t.equal(codec.afterImport, false)
  t.equal(codec.afterEncode, true, 'encoding checksummed through the loaded binding')
  t.same(codec.records, [[{ k: 'v' }, 3], [{}, 300]])
})
