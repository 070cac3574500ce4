/**
 * `shoebox meta index PATTERN` and `meta get|query --records` end to end,
 * in-process: archives written by rollingSink (gzip and zstd with many members, plain,
 * and on a real S3 server) are indexed into the meta db, `meta update` brings
 * the rows into the state db, and a query's records are fetched by their
 * `_position` (a gzip record's names its member). Errors: a config that would
 * drop the index columns, a row without a position, an archive that is gone.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import { archiveSource, rollingSink, type Position, type ShoeboxRecord } from '../../../lib/index.js'
import { escapeGlob } from '../../../lib/source/glob.js'
import { parsePositionText } from '../../../lib/source/position-text.js'
import { cli, jsonLines } from '../../cli-run.js'
import { startS3 } from '../../s3-server.js'

const CONFIG = `metadata:
  unique: uid
  include: [uid, kind, _archive, _position]
  index: [kind]
`

const input = Array.from({ length: 600 }, (_, n) => ({
  metadata: { uid: `u${String(n).padStart(4, '0')}`, kind: n % 100 === 0 ? 'rare' : n % 2 === 0 ? 'even' : 'odd', 'extra-key': 'dropped by include' },
  payload: { n, text: 'ü'.repeat(n % 90) }
}))

interface Printed { metadata: Record<string, string>, payload: { n: number, text: string }, position: Position }

async function archives (t: Test, compress: 'gzip' | 'zstd' | 'none'): Promise<{ base: string, full: ShoeboxRecord[] }> {
  const base = t.testdir({ _mmmeta: { 'config.yml': CONFIG } })
  const dir = path.join(base, 'archives')
  await pipeline(Readable.from(input), rollingSink({ dir, compress, blockSize: 4096, roll: { records: 250 }, flushInterval: 0 }))
  const full: ShoeboxRecord[] = []
  for await (const r of archiveSource(path.join(dir, '*'), { positions: true })) full.push(r as ShoeboxRecord)
  return { base, full }
}

async function ok (t: Test, args: string[]): Promise<Buffer> {
  const r = await cli(args)
  t.equal(r.code, 0, `${args.slice(0, 2).join(' ')}: ${r.stderr}`)
  return r.stdout
}

for (const compress of ['gzip', 'zstd', 'none'] as const) {
  t.test(`${compress}: index, update, then query and get fetch exactly the matching records`, async (t) => {
    const { base, full } = await archives(t, compress)
    const pattern = path.join(base, 'archives', '*')
    const indexed = JSON.parse((await ok(t, ['meta', 'index', pattern, '--metadir', base, '--json'])).toString()) as { added: number, file: string }
    t.equal(indexed.added, 600)
    t.ok(fs.existsSync(indexed.file), 'one diff file in db/')
    await ok(t, ['meta', 'update', '--metadir', base])

    const rows = jsonLines(await ok(t, ['meta', 'query', '--metadir', base, 'kind=rare', '--order', 'uid'])) as Array<Record<string, string>>
    t.same(rows.map((r) => r.uid), ['u0000', 'u0100', 'u0200', 'u0300', 'u0400', 'u0500'])
    t.notOk('extra_key' in rows[0], 'the projection still applies')
    for (const row of rows) {
      const record = full[Number(row.uid.slice(1))]
      const position = record.position as Position
      t.equal(row._archive, `archives/${position.file}`, 'the archive, relative to the metadir')
      t.same(parsePositionText(row._position), position, `${row.uid}: the record's position${compress === 'none' ? '' : ', with its member'}`)
      if (compress !== 'none') t.match(row._position, /^[^:]+\.(gz|zst):\d+@\d+\+\d+$/)
    }

    const printed = jsonLines(await ok(t, ['meta', 'query', '--metadir', base, 'kind=rare', '--order', 'uid', '--records'])) as Printed[]
    t.same(printed.map((p) => p.payload), [0, 100, 200, 300, 400, 500].map((n) => input[n].payload), 'the records, in the rows\' order')
    t.same(printed.map((p) => p.position), [0, 100, 200, 300, 400, 500].map((n) => full[n].position))
    t.same(printed[1].metadata, { uid: 'u0100', kind: 'rare', 'extra-key': 'dropped by include' }, 'the record as archived, not the row')

    const got = jsonLines(await ok(t, ['meta', 'get', '--metadir', base, 'u0599', 'u0007', 'u0599', '--records'])) as Printed[]
    t.same(got.map((p) => p.payload.n), [599, 7, 599])

    const limited = jsonLines(await ok(t, ['meta', 'query', '--metadir', base, 'kind=odd', '--limit', '2', '--order', 'uid', '--records'])) as Printed[]
    t.same(limited.map((p) => p.payload.n), [1, 3])

    // read --from takes what the index stores.
    const from = rows[4]._position
    const rest = jsonLines(await ok(t, ['read', path.join(base, 'archives', from.slice(0, from.indexOf(':'))), '--from', from])) as Printed[]
    t.same(rest.map((p) => p.payload.n), Array.from({ length: 99 }, (_, i) => 401 + i), 'read --from continues after the indexed record')

    const missing = await cli(['meta', 'get', '--metadir', base, 'u0001', 'nope', '--records'])
    t.equal(missing.code, 1)
    t.same((jsonLines(missing.stdout) as Printed[]).map((p) => p.payload.n), [1], 'the records found, then the error')
    t.match(missing.stderr, /not in .*state\.db: nope/)

    t.equal((await cli(['meta', 'query', '--metadir', base, '--count', '--records'])).code, 2, '--count and --records is a usage error')
  })
}

t.test('archives in a directory named with glob characters: indexed and fetched by their rows', async (t) => {
  const { base } = await archives(t, 'gzip')
  const odd = 'old (copy) [1]+@x{a,b}'
  fs.renameSync(path.join(base, 'archives'), path.join(base, odd))
  await ok(t, ['meta', 'index', path.join(base, escapeGlob(odd), '*'), '--metadir', base])
  await ok(t, ['meta', 'update', '--metadir', base])
  const got = jsonLines(await ok(t, ['meta', 'get', '--metadir', base, 'u0042', 'u0577', '--records'])) as Printed[]
  t.same(got.map((p) => p.payload), [input[42].payload, input[577].payload], 'the records, from the directory of that very name')
})

t.test('a record whose archive is gone: the records before it, then an error naming the file', async (t) => {
  const { base, full } = await archives(t, 'gzip')
  await ok(t, ['meta', 'index', path.join(base, 'archives', '*.gz'), '--metadir', base])
  await ok(t, ['meta', 'update', '--metadir', base])
  const last = (full[599].position as Position).file
  t.not((full[0].position as Position).file, last, 'several archives')
  fs.rmSync(path.join(base, 'archives', last))
  const r = await cli(['meta', 'query', '--metadir', base, 'kind=rare', '--order', 'uid', '--records'])
  t.equal(r.code, 1)
  const before = (jsonLines(r.stdout) as Printed[]).map((p) => p.payload.n)
  t.ok(before.length >= 1 && before.every((n, i) => n === i * 100), `the records before it: ${before.join(' ')}`)
  t.match(r.stderr, new RegExp(`position \\d+ in .*${last.replace(/\./g, '\\.')}: `))
})

t.test('config.yml must keep _archive and _position; rows without them have no records', async (t) => {
  const { base } = await archives(t, 'gzip')
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), 'metadata:\n  unique: uid\n  include: [uid, kind, _archive]\n')
  const refused = await cli(['meta', 'index', path.join(base, 'archives', '*.gz'), '--metadir', base])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /config\.yml: metadata\.include must name _position for a record index/)
  const db = path.join(base, '_mmmeta', 'db')
  t.same(fs.existsSync(db) ? fs.readdirSync(db) : [], [], 'nothing written')

  // Rows from elsewhere (generate --archives) have metadata but no positions.
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), 'metadata:\n  unique: uid\n')
  await ok(t, ['meta', 'generate', '--archives', path.join(base, 'archives', '*.gz'), '--metadir', base])
  await ok(t, ['meta', 'update', '--metadir', base])
  const r = await cli(['meta', 'get', '--metadir', base, 'u0003', '--records'])
  t.equal(r.code, 1)
  t.match(r.stderr, /uid u0003 has no _archive and _position \(was it written by meta index/)

  t.equal((await cli(['meta', 'index', '--metadir', base])).code, 2, 'no PATTERN: usage')
})

t.test('unique: _position gives one row per record, without a key of their own', async (t) => {
  const { base, full } = await archives(t, 'gzip')
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), 'metadata:\n  unique: _position\n')
  await ok(t, ['meta', 'index', path.join(base, 'archives', '*.gz'), '--metadir', base])
  await ok(t, ['meta', 'update', '--metadir', base])
  t.equal((await ok(t, ['meta', 'query', '--metadir', base, '--count'])).toString(), '600\n')
  const row = (jsonLines(await ok(t, ['meta', 'query', '--metadir', base, 'uid=u0321'])) as Array<Record<string, string>>)[0]
  t.same(parsePositionText(row._position), full[321].position)
  t.equal(row.extra_key, 'dropped by include', 'no include: every key kept (flattened)')
})

/** The test S3 server, its settings in process.env (the CLI reads them there) until the test ends. */
async function s3WithEnv (t: Test): Promise<Awaited<ReturnType<typeof startS3>>> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const saved = { ...process.env }
  t.teardown(() => { process.env = saved })
  Object.assign(process.env, s3.env)
  return s3
}

t.test('archives on S3: indexed by URL, fetched with ranged reads', async (t) => {
  const s3 = await s3WithEnv(t)
  const { base, full } = await archives(t, 'gzip')
  const client = s3.client()
  for (const name of fs.readdirSync(path.join(base, 'archives'))) {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `logs/${name}`, Body: fs.readFileSync(path.join(base, 'archives', name)) }))
  }
  fs.rmSync(path.join(base, 'archives'), { recursive: true })
  await ok(t, ['meta', 'index', `s3://${s3.bucket}/logs/*.gz`, '--metadir', base])
  await ok(t, ['meta', 'update', '--metadir', base])
  const row = (jsonLines(await ok(t, ['meta', 'get', '--metadir', base, 'u0250'])) as Array<Record<string, string>>)[0]
  const position = full[250].position as Required<Position>
  t.equal(row._archive, `s3://${s3.bucket}/logs/${position.file}`)
  t.equal(row._position, `logs/${position.file}:${position.offset}@${position.member.offset}+${position.member.skip}`)
  const printed = jsonLines(await ok(t, ['meta', 'query', '--metadir', base, 'kind=rare', '--order', 'uid', '--records'])) as Printed[]
  t.same(printed.map((p) => p.payload.n), [0, 100, 200, 300, 400, 500])
  // A malformed SHOEBOX_S3_ENDPOINT, which these rows' archives take, is a usage error before anything is printed
  // (it was exit 1, met at the first row's fetch); with --endpoint the variable is not read.
  // (s3WithEnv() restores the environment.)
  process.env.SHOEBOX_S3_ENDPOINT = 'ftp://x'
  for (const args of [['meta', 'get', '--metadir', base, 'u0250', '--records'], ['meta', 'query', '--metadir', base, 'kind=rare', '--records']]) {
    const r = await cli(args)
    const command = args.slice(0, 2).join(' ')
    t.equal(r.code, 2, command)
    t.equal(r.stderr, `shoebox ${command}: SHOEBOX_S3_ENDPOINT (the default endpoint) must be an http:// or https:// URL, got "ftp://x"\n`, command)
    t.equal(r.stdout.length, 0, `${command}: nothing printed`)
  }
  const given = jsonLines(await ok(t, ['meta', 'get', '--metadir', base, 'u0250', '--records', '--endpoint', s3.endpoint])) as Printed[]
  t.same(given.map((p) => p.payload.n), [250], 'with --endpoint')
})

t.test('meta generate --archives on S3 takes --endpoint, as meta index does', async (t) => {
  // It had no --endpoint: archives on an S3-compatible server could be read only through SHOEBOX_S3_ENDPOINT.
  const s3 = await s3WithEnv(t)
  delete process.env.SHOEBOX_S3_ENDPOINT
  const { base } = await archives(t, 'gzip')
  const client = s3.client()
  for (const name of fs.readdirSync(path.join(base, 'archives'))) {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `logs/${name}`, Body: fs.readFileSync(path.join(base, 'archives', name)) }))
  }
  const text = (await ok(t, ['meta', 'generate', '--archives', `s3://${s3.bucket}/logs/*.gz`, '--endpoint', s3.endpoint, '--metadir', base])).toString()
  t.match(text, /^Added 600 new files\./)
})

t.test('the counts name records, and every record without the unique key is reported, none written', async (t) => {
  const { base } = await archives(t, 'none')
  const pattern = path.join(base, 'archives', '*')
  const text = (await ok(t, ['meta', 'index', pattern, '--metadir', base])).toString()
  t.match(text, /^Added 600 new records\.\nUpdated 0 records\.\nSkipped 0 not changed records\.\nWrote .+ \(600 rows\)\.\nNow 600 records in meta database\.\n$/)
  // Without a config.yml the unique key is mmmeta's content_hash, which these records lack.
  const other = path.join(base, 'other')
  fs.mkdirSync(path.join(other, '_mmmeta'), { recursive: true })
  const r = await cli(['meta', 'index', pattern, '--metadir', other])
  t.equal(r.code, 0, 'report: a line each, exit 0')
  t.match(r.stdout.toString(), /^Added 0 new records\.\nUpdated 0 records\.\nSkipped 0 not changed records\.\n600 invalid records\.\nNothing changed: no file written\.\nNow 0 records in meta database\.\n$/)
  t.match(r.stderr.toString(), /^invalid \S+ record 1: missing keys: content_hash\n/)
})
