/**
 * The package's runtime exports are its contract, and the README's API
 * section documents it: this file holds the exact list, so an export added
 * or removed by accident fails here, and checks both ways against the
 * README: every runtime export is named in the API section, and every
 * function or class the section documents (its headings, the "Lower level"
 * list, `new X(...)`) is exported, and so is every class or type of lib/
 * the section names in code (as a type at least). Streams that factories
 * create are exported as types only (the type check of this file proves
 * they exist).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import ts from 'typescript'
import * as lib from '../lib/index.js'
import * as events from '../lib/events/index.js'
import * as meta from '../lib/meta/index.js'
import type { ArchiveSource, DecodeStream, EncodeNdjson, EncodeStream, FileStore, PackSource, RollingSink, S3Store } from '../lib/index.js'
import type { KronosClient, KronosGetStream, Shipper, StampStream } from '../lib/events/index.js'
import { ROOT } from './transpile.js'

const EXPORTS = [
  'ArchiveDecoder', 'ArchiveEncoder', 'CorruptArchiveError', 'DEFAULT_MAX_RECORD_SIZE', 'InvalidOptionError', 'RecordsToNdjson', 'SealedUploader', 'ShoeboxError', 'StoreError', 'VariableRefusedError',
  'agePolicy', 'anyPolicy', 'archiveSource', 'countPolicy', 'crc32', 'crc32c', 'decode', 'encode', 'encodeNdjson', 'encodeRecords',
  'formatStats', 'gunzip', 'gunzipMembers', 'gzip', 'naturalCompare', 'openStore', 'pack', 'packFiles', 'parseDuration', 'parseSize', 'payloadJson',
  'payloadText', 'readRecord', 'recordJson', 'recoverDirectory', 'rollingSink', 'sizePolicy', 'unpack', 'uploadSink', 'zstd', 'zstdDecompress'
]

/** 'shoebox/events': time, ids, stamping, the Kronos client, the shipper and its log helpers. */
const EVENTS_EXPORTS = [
  'ship', 'logScope', 'logFunction', 'logRequests', 'serveEvents',
  'KronosError', 'MAX_KRONOS_TIME', 'MIN_KRONOS_TIME', 'compareEventIds', 'eventIdSortKey', 'eventIdTime', 'formatEventId', 'formatKronosTime',
  'highestEventId', 'isEventId', 'isValidStreamName', 'kronos', 'kronosTimeFromDate', 'kronosTimeFromIso', 'kronosTimeFromMs',
  'kronosTimeFromSeconds', 'kronosTimeNow', 'kronosTimeToDate', 'kronosTimeToIso', 'kronosTimeToMs', 'lowestEventId', 'newEventId',
  'parseEvent', 'parseEventId', 'parseKronosTime', 'stamp', 'stampNdjson', 'stringifyEvent', 'toKronosTime'
]

/** 'shoebox/meta': the metadir, publisher side, then consumer side. */
const META_EXPORTS = [
  'NumberText', 'UnreadableMetadata', 'archiveMetadataSource', 'fileStatSource', 'flattenMetadata', 'historyRows', 'jsonArraySource', 'jsonFilesSource', 'loadHistory',
  'loadMetaConfig', 'metaIngest', 'ndjsonFileSource', 'ndjsonSource', 'squashHistory', 'withOrigin',
  'metadir', 'pullMetadir', 'pushMetadir', 'recordIndexSource', 'indexedRecords', 'formatPosition', 'parsePositionText'
]

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const api = readme.slice(readme.indexOf('\n## API\n'), readme.indexOf('\n## CLI reference\n'))

const ALL = { ...lib, ...events, ...meta }

t.test('each entry point exports exactly its documented list at runtime', async (t) => {
  t.ok(api.length > 1000, 'the README has an API section')
  t.same(Object.keys(lib).sort(), [...EXPORTS].sort(), "'shoebox'")
  t.same(Object.keys(events).sort(), [...EVENTS_EXPORTS].sort(), "'shoebox/events'")
  t.same(Object.keys(meta).sort(), [...META_EXPORTS].sort(), "'shoebox/meta'")
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
  t.same(Object.keys(pkg.exports), ['.', './events', './meta', './package.json'], 'package.json names the entry points')
})

t.test('every runtime export is named in the README API section', async (t) => {
  const missing = Object.keys(ALL).filter((name) => !new RegExp(`\\b${name}\\b`).test(api))
  t.same(missing, [])
  t.match(api, "from 'shoebox/events'", 'the API section says where the events entry point is')
  t.match(api, "from 'shoebox/meta'", 'the API section says where the meta entry point is')
})

t.test('every function and class the API section documents is exported', async (t) => {
  const documented = new Set<string>()
  for (const line of api.split('\n')) {
    if (line.startsWith('###')) for (const m of line.matchAll(/`(\w+)\(/g)) documented.add(m[1])
  }
  const lower = api.slice(api.indexOf('### Lower level'), api.indexOf('\n### ', api.indexOf('### Lower level') + 1))
  for (const line of lower.split('\n')) {
    // The names a bullet starts with: "- `crc32`, `crc32c`: ..." or "- `readRecord(buf, ...)`: ...".
    const lead = /^- ((?:`[^`]+`(?:, )?)+)/.exec(line)
    if (lead !== null) for (const m of lead[1].matchAll(/`(\w+)/g)) documented.add(m[1])
  }
  for (const m of api.matchAll(/`new (\w+)\(/g)) documented.add(m[1])
  for (const m of api.matchAll(/`([A-Z]\w*Error)`/g)) documented.add(m[1])
  // The parse must have found the documented entry points, or this test checks nothing.
  for (const name of ['encode', 'decode', 'rollingSink', 'archiveSource', 'openStore', 'pack', 'unpack', 'recoverDirectory', 'readRecord', 'SealedUploader', 'StoreError', 'parseSize']) {
    t.ok(documented.has(name), `found ${name} in the README`)
  }
  t.same([...documented].filter((name) => !(name in ALL)).sort(), [])
})

/** Every name an entry point exports, types included (its export lists and exported declarations, read from the source). */
function exportedNames (file: string): Set<string> {
  const source = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest)
  const names = new Set<string>()
  for (const node of source.statements) {
    if (ts.isExportDeclaration(node) && node.exportClause !== undefined && ts.isNamedExports(node.exportClause)) {
      for (const element of node.exportClause.elements) names.add(element.name.text)
    } else if (ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) {
      const name = (node as ts.DeclarationStatement).name
      if (name !== undefined && ts.isIdentifier(name)) names.add(name.text)
    }
  }
  return names
}

/** The classes, interfaces and types lib/ declares and exports from their modules. */
function declaredTypeNames (dir: string): Set<string> {
  const names = new Set<string>()
  for (const file of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue
    const text = fs.readFileSync(path.join(dir, file), 'utf8')
    for (const m of text.matchAll(/^export (?:declare )?(?:abstract )?(?:class|interface|type) (\w+)/gm)) names.add(m[1])
  }
  return names
}

t.test('every class or type of lib/ the API section names in code is exported, as a value or a type', async (t) => {
  const exported = new Set(['lib/index.ts', 'lib/events/index.ts', 'lib/meta/index.ts'].flatMap((file) => [...exportedNames(file)]))
  const declared = declaredTypeNames(path.join(ROOT, 'lib'))
  // Inline code only: the examples' code blocks import what they use, and compile (test/examples.test.ts).
  const prose = api.replace(/```[\s\S]*?```/g, '')
  const named = new Set<string>()
  for (const m of prose.matchAll(/`([^`\n]+)`/g)) for (const n of m[1].matchAll(/\b[A-Z]\w*/g)) named.add(n[0])
  for (const name of ['ArchiveSource', 'S3Store', 'DecodeStream']) t.ok(named.has(name) && declared.has(name), `found ${name} in the README and lib/`)
  t.same([...named].filter((name) => declared.has(name) && !exported.has(name)).sort(), [])
})

t.test('the streams factories make are types, not values', async (t) => {
  const typeOnly = ['EncodeStream', 'DecodeStream', 'EncodeNdjson', 'RollingSink', 'ArchiveSource', 'FetchRecords', 'PackSource', 'S3Store', 'FileStore', 'TransferStats',
    'StampStream', 'KronosClient', 'KronosGetStream', 'Shipper']
  t.same(typeOnly.filter((name) => name in ALL), [])
  // Each type still names what its factory returns.
  const encoder: EncodeStream = lib.encode()
  const decoder: DecodeStream = lib.decode()
  const ndjson: EncodeNdjson = lib.encodeNdjson()
  const packed: PackSource = lib.packFiles(ROOT)
  t.equal(typeof encoder.write, 'function')
  for (const stream of [encoder, decoder, ndjson, packed]) stream.destroy()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-exports-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const sink: RollingSink = lib.rollingSink({ dir, recover: false })
  const source: ArchiveSource = lib.archiveSource(path.join(dir, '*.shoebox'))
  for (const stream of [sink, source]) stream.destroy()
  // A sink destroyed before it started still makes its directory as it starts: wait for its close, or the
  // directory came back after the teardown had removed it, left in /tmp at every run.
  await new Promise((resolve) => sink.once('close', resolve))
  const stamper: StampStream = events.stamp({ stream: 's' })
  const client: KronosClient = events.kronos('http://127.0.0.1:9')
  const got: KronosGetStream = client.get('s', 0, 1)
  t.equal(typeof got.yielded, 'number')
  got.destroy()
  stamper.destroy()
  client.close()
  const shipper: Shipper = events.ship('http://127.0.0.1:1', { stream: 's' })
  shipper.destroy()
  const store = lib.openStore('s3://bucket/prefix') as S3Store
  t.equal(typeof store.client, 'function', 'openStore(s3://...) returns an S3Store')
  await store.close()
  const fileStore = lib.openStore(dir) as FileStore
  t.equal(fileStore.root, dir, 'openStore(dir) returns a FileStore')
  await fileStore.close()
})
