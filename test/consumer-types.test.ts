/**
 * The declarations as a TypeScript project that installs shoebox meets them:
 * they are emitted from the current sources (dist/ may be older) into a
 * package laid out as the tarball's, and a file using the README's API is
 * compiled against it with `strict` and `skipLibCheck: false`, under
 * NodeNext and under bundler resolution, and a CommonJS one under
 * `"module": "commonjs"` without `esModuleInterop` (the declarations
 * default-imported node:http, node:zlib and better-sqlite3, which only
 * compiled with it). The ES module file also asserts that what
 * the README shows typed (records of a `for await`, events' payloads,
 * decode()'s 'data' and 'corrupt') is not `any`: Readable's own types give
 * `any` for each; that pipeline() still takes decode() as a middle stage; and
 * that the stages fit an ETL job's own pipeline (its async generator source or
 * transform, an AbortSignal, web streams, the shipper as the sink).
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import ts from 'typescript'
import { tempDir } from './temp-dir.js'
import { ROOT } from './transpile.js'

const CONSUMER = `
import { Readable, Writable, pipeline as pipelineCallback } from 'node:stream'
import { ReadableStream } from 'node:stream/web'
import { pipeline } from 'node:stream/promises'
import fs from 'node:fs'
import {
  archiveSource, decode, encode, encodeNdjson, gunzip, gunzipMembers, packFiles, payloadJson, RecordsToNdjson, rollingSink, uploadSink, zstd, zstdDecompress,
  type ShoeboxRecord
} from 'shoebox'
import { kronos, ship, stamp, stampNdjson } from 'shoebox/events'
import { fileStatSource, indexedRecords, metadir, ndjsonFileSource, recordIndexSource } from 'shoebox/meta'

type IsAny<T> = 0 extends (1 & T) ? true : false
/** Compiles only when \`value\` is not any. */
function typed<T> (value: T, ok: IsAny<T> extends true ? 'is any' : 'typed'): void { void value; void ok }

export async function readme (): Promise<void> {
  const sink = rollingSink({ dir: 'events', roll: { size: '100MiB', age: '10m' }, gzip: true })
  sink.on('sealed', (file) => { typed(file, 'typed'); console.log(file.path, file.records.toFixed()) })
  sink.on('upload', ({ key, bytes, ms }) => { typed(key, 'typed'); typed(bytes, 'typed'); typed(ms, 'typed') })
  sink.on('error', (err) => { typed(err, 'typed') })
  await pipeline(Readable.from([{ metadata: { event: 'order.paid' }, payload: { id: 1 } }]), sink)

  const source = archiveSource('events/*.shoebox.gz')
  source.on('fileEnd', ({ path, records }) => { typed(path, 'typed'); typed(records, 'typed') })
  source.on('corrupt', (info) => { typed(info.offset, 'typed') })
  for await (const record of source) {
    typed(record, 'typed')
    console.log(record.metadata.event.length, payloadJson(record))
  }
  for await (const record of archiveSource('events/*', { positions: [{ file: 'a', offset: 0 }] })) typed(record, 'typed')

  await pipeline(Readable.from([]), encode(), fs.createWriteStream('events.shoebox'))
  await pipeline(fs.createReadStream('events.shoebox'), decode(), async function * (records) { for await (const r of records) yield r })

  // decode()'s listeners get records and damage; every pipeline form with decode() in the middle still compiles
  // (Node's pipeline() types take a middle stage only if its iterator may yield strings or Buffers).
  const decoder = fs.createReadStream('events.shoebox').pipe(decode({ mode: 'lenient' }))
  decoder.on('data', (record) => { typed(record, 'typed'); console.log(record.metadata.event.length, payloadJson(record)) })
  decoder.once('data', (record) => { typed(record.payload, 'typed') })
  decoder.on('corrupt', (info) => { typed(info, 'typed'); typed(info.offset, 'typed') })
  decoder.on('error', (err) => { typed(err, 'typed') })
  // A for await over decode() itself: its records are typed (they were any), with no cast.
  for await (const record of decoder) {
    typed(record.metadata, 'typed')
    typed(record.payload, 'typed')
    const kept: ShoeboxRecord = record
    // @ts-expect-error a record has no such member (were the record any, this line would compile and the directive fail)
    console.log(kept, record.notAMember)
  }
  for await (const record of fs.createReadStream('events.shoebox').pipe(decode({ rawMetadata: true }))) {
    for (const [key, value] of record.rawMetadata ?? []) { typed(key, 'typed'); typed(value, 'typed') }
  }
  const next = await decode()[Symbol.asyncIterator]().next()
  if (next.done !== true) typed(next.value, 'typed')
  for await (const file of packFiles('photos')) {
    typed(file, 'typed')
    console.log(file.metadata[0][1].length, file.payload.length)
  }
  await pipeline(fs.createReadStream('events.shoebox.gz'), gunzip(), decode(), async function (records) { for await (const r of records) console.log(r) })
  const members = gunzipMembers()
  await pipeline(fs.createReadStream('events.shoebox.gz'), members, decode({ positions: true, members: members.members }), new RecordsToNdjson(), process.stdout)
  await pipeline(fs.createReadStream('events.shoebox.zst'), zstdDecompress(), decode(), encode(), fs.createWriteStream('copy.shoebox'))
  await pipeline(
    fs.createReadStream('events.shoebox', { highWaterMark: 1 << 20 }),
    decode(),
    new Writable({ objectMode: true, write (record, _enc, done) { console.log(payloadJson(record)); done() } })
  )
  pipelineCallback(fs.createReadStream('events.shoebox.gz'), gunzip(), decode(), new RecordsToNdjson(), process.stdout, (err) => { if (err !== null) console.error(err) })

  // An ETL job's shapes: its own source and sink around the stages, a signal, web streams, the shipper as a sink.
  const signal = AbortSignal.timeout(1000)
  async function * theirSource (): AsyncGenerator<{ metadata: Record<string, string>, payload: unknown }> { yield { metadata: { a: 'b' }, payload: 1 } }
  await pipeline(theirSource, encode(), rollingSink({ dir: 'out' }), { signal })
  await pipeline(theirSource(), rollingSink({ dir: 'out' }), { signal })
  await pipeline(archiveSource('events/*'), async function * (records) {
    for await (const record of records) { typed(record, 'typed'); yield payloadJson(record) }
  }, new Writable({ objectMode: true, write (_value, _enc, done) { done() } }), { signal })
  for await (const record of Readable.toWeb(archiveSource('events/*'))) console.log(record)
  await pipeline(Readable.fromWeb(new ReadableStream<Uint8Array>()), decode(), new RecordsToNdjson(), process.stdout)
  await pipeline(fs.createReadStream('events.ndjson'), stampNdjson({ stream: 'orders' }), ship('http://127.0.0.1:1'))
  await pipeline(theirSource(), stamp({ stream: 'orders' }), ship('http://127.0.0.1:1'))
  await pipeline(fs.createReadStream('events.ndjson'), encodeNdjson(), zstd(), uploadSink('file:///data', 'k'))
  const stopping = archiveSource('events/*', { signal })
  for await (const record of stopping) { typed(record, 'typed'); break }
  stopping.stop()

  const client = kronos('http://127.0.0.1:1')
  for await (const event of client.get('pageviews', '2026-12-03T00:00:00Z', '2026-12-04T00:00:00Z')) typed(event, 'typed')
  client.close()

  for await (const row of recordIndexSource('events/*')) typed(row._archive, 'typed')
  for await (const record of indexedRecords([{ _archive: 'events/a.shoebox', _position: 'a.shoebox:0' }])) typed(record.metadata, 'typed')
  for await (const object of ndjsonFileSource('meta.ndjson')) typed(object, 'typed')
  for await (const object of fileStatSource('photos')) typed(object, 'typed')

  const md = await metadir('archive')
  for await (const file of md.files.find({ imported: null })) {
    typed(file, 'typed')
    file.set('imported', true)
    await file.save()
  }
  md.close()
}
`

/** A CommonJS project's file, which names every entry point (node10 resolution finds the subpaths through typesVersions). */
const CONSUMER_CJS = `
import { archiveSource, decode, encode, payloadJson, rollingSink } from 'shoebox'
import { kronos, serveEvents, ship } from 'shoebox/events'
import { metadir } from 'shoebox/meta'
export const used = [archiveSource, decode, encode, payloadJson, rollingSink, kronos, serveEvents, ship, metadir]
`

/** The package as published, at dir/node_modules/shoebox, with declarations emitted from lib/ now; its dependencies are the repository's. */
function emitPackage (project: string): void {
  // The project's own package.json: without one, the nearest was the repository's (the project is under its tmp/),
  // named shoebox, and NodeNext and bundler resolution took 'shoebox' as that package naming itself: its dist/.
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  const dir = path.join(project, 'node_modules', 'shoebox')
  fs.mkdirSync(dir, { recursive: true })
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg))
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  const entries = ['index.ts', 'events/index.ts', 'meta/index.ts'].map((file) => path.join(ROOT, 'lib', file))
  const program = ts.createProgram(entries, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    declaration: true,
    emitDeclarationOnly: true,
    rootDir: path.join(ROOT, 'lib'),
    outDir: path.join(dir, 'dist')
  })
  const emitted = program.emit()
  if (emitted.emitSkipped) throw new Error('declarations not emitted')
}

function diagnostics (file: string, options: ts.CompilerOptions): string[] {
  const program = ts.createProgram([file], {
    ...options, strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], target: ts.ScriptTarget.ES2022
  })
  const messages = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file === undefined ? '' : `${path.basename(d.file.fileName)}(${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}): `
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]
  })
  // The declarations compiled against must be the ones emitted now, not the repository's dist/ (which may be older).
  const stale = program.getSourceFiles().filter((f) => f.fileName.startsWith(path.join(ROOT, 'dist') + '/'))
  if (stale.length > 0) messages.push(`read the repository's dist/ (${path.basename(stale[0].fileName)}...), not the package`)
  return messages
}

t.test('a strict TypeScript project compiles the README\'s API against the declarations, with nothing any', async (t) => {
  const dir = tempDir(t, 'consumer-types-')
  emitPackage(dir)
  const file = path.join(dir, 'consumer.mts')
  fs.writeFileSync(file, CONSUMER)
  t.same(diagnostics(file, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }), [], 'NodeNext')
  t.same(diagnostics(file, { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }), [], 'bundler')
})

t.test('a CommonJS TypeScript project compiles against the declarations without esModuleInterop', async (t) => {
  const dir = tempDir(t, 'consumer-types-cjs-')
  emitPackage(dir)
  const file = path.join(dir, 'consumer.ts')
  fs.writeFileSync(file, CONSUMER_CJS)
  t.same(diagnostics(file, { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, esModuleInterop: false }), [], 'commonjs, node10')
})
