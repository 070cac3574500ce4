/**
 * An option the API refuses is an InvalidOptionError that carries the option
 * and the reason as fields, so the CLI words its own line ('--zstd=0: the
 * level ...') from them instead of rewriting the message with a regex
 * (lib/cli/compress-options.ts).
 */
import t from 'tap'
import { compressionOf } from '../lib/compress/codecs.js'
import { InvalidOptionError, openStore as openStoreFor, ShoeboxError } from '../lib/index.js'
import { parseSize } from '../lib/units.js'
import { cli } from './cli-run.js'

function refusal (fn: () => unknown): InvalidOptionError {
  try {
    fn()
  } catch (err) {
    if (err instanceof InvalidOptionError) return err
    throw err
  }
  throw new Error('not refused')
}

t.test('the error names the option and the reason; the message is the two joined', async (t) => {
  for (const [fn, option, reason] of [
    [() => compressionOf({ codec: 'gzip', level: 12 }), 'gzip.level', 'must be an integer from 1 to 9, got 12'],
    [() => compressionOf({ codec: 'zstd', level: 0 }), 'zstd.level', 'must be an integer from -131072 to 22, not 0, got 0'],
    [() => parseSize('ten', '--roll-size'), '--roll-size', "expected a size such as 100MiB, 10MB or 4096, got \"ten\""]
  ] as const) {
    const err = refusal(fn)
    t.ok(err instanceof ShoeboxError, `${option}: a ShoeboxError`)
    t.match(err, { code: 'SHOEBOX_INVALID_OPTION', option, reason, message: `option ${option}: ${reason}` }, option)
  }
})

t.test('the CLI names the flag as typed, from the fields: the API option name never shows', async (t) => {
  for (const [command, flag, line] of [
    ['encode', '--zstd=0', '--zstd: the level must be an integer from -131072 to 22, not 0, got "0"'],
    ['encode', '--gzip=12', '--gzip: the level must be an integer from 1 to 9, got "12"'],
    ['pack', '--zstd=99', '--zstd: the level must be an integer from -131072 to 22, not 0, got "99"']
  ]) {
    const args = command === 'pack' ? ['pack', '.', '--to', 'x', flag] : [command, flag]
    const r = await cli(args)
    t.equal(r.code, 2, flag)
    t.equal(r.stderr, `shoebox ${command}: ${line}\n(try 'shoebox ${command} --help')\n`, flag)
  }
})

t.test('a count option refused anywhere in the API: one wording, naming the option and the value (positiveCount, lib/units.ts)', async (t) => {
  const { kronos } = await import('../lib/events/client.js')
  const { ship } = await import('../lib/events/ship.js')
  const { retry } = await import('../lib/transfer/retry.js')
  const { openStore } = await import('../lib/index.js')
  const cases: Array<[string, () => unknown, string]> = [
    ['kronos attempts', () => kronos('http://127.0.0.1:1', { attempts: 0 }), 'attempts'],
    ['kronos maxSockets', () => kronos('http://127.0.0.1:1', { maxSockets: 1.5 }), 'maxSockets'],
    ['ship maxInFlight', () => ship('http://127.0.0.1:1', { stream: 's', maxInFlight: 0 }), 'maxInFlight'],
    ['ship retry.attempts', () => ship('http://127.0.0.1:1', { stream: 's', retry: { attempts: -1 } }), 'retry.attempts'],
    ['s3 writer queueSize', () => openStore('s3://bucket-x').writer('k', { queueSize: 0 }), 'queueSize']
  ]
  for (const [what, fn, option] of cases) {
    const err = refusal(fn)
    t.match(err, { option, reason: /^must be a positive integer, got -?[\d.]+$/ }, what)
  }
  await t.rejects(retry(async () => 1, { attempts: 0 }), { code: 'SHOEBOX_INVALID_OPTION', option: 'attempts', reason: 'must be a positive integer, got 0' }, 'retry attempts')
})

t.test('a count refused by the API quotes the value as oneOf() does: a string told from a number, NaN and Infinity by name (positiveCount)', async (t) => {
  const { kronos } = await import('../lib/events/client.js')
  const { ship } = await import('../lib/events/ship.js')
  const cases: Array<[string, () => unknown, string, string]> = [
    ['kronos attempts \'3\'', () => kronos('http://127.0.0.1:1', { attempts: '3' as unknown as number }), 'attempts', 'must be a positive integer, got "3"'],
    ['kronos maxSockets NaN', () => kronos('http://127.0.0.1:1', { maxSockets: NaN }), 'maxSockets', 'must be a positive integer, got NaN'],
    ['ship maxInFlight Infinity', () => ship('http://127.0.0.1:1', { stream: 's', maxInFlight: Infinity }), 'maxInFlight', 'must be a positive integer, got Infinity']
  ]
  for (const [what, fn, option, reason] of cases) {
    t.match(refusal(fn), { code: 'SHOEBOX_INVALID_OPTION', option, reason, message: `option ${option}: ${reason}` }, what)
  }
})

t.test('a CLI count flag is refused in the same shape, naming the flag and quoting what was typed (lib/cli/options.ts positiveInteger)', async (t) => {
  for (const [args, line] of [
    [['ship', 'http://127.0.0.1:1', '--stream', 's', '--attempts', 'abc'], '--attempts: must be a positive integer, got "abc"'],
    [['ship', 'http://127.0.0.1:1', '--stream', 's', '--queue=0'], '--queue: must be a positive integer, got "0"'],
    [['events', 'get', 'http://127.0.0.1:1', 's', '--limit=-1'], '--limit: must be a whole number, got "-1"']
  ] as const) {
    const r = await cli([...args])
    const name = args[0] === 'events' ? `${args[0]} ${args[1]}` : args[0]
    t.equal(r.code, 2, args.join(' '))
    t.equal(r.stderr, `shoebox ${name}: ${line}\n(try 'shoebox ${name} --help')\n`, args.join(' '))
  }
})

t.test('an option that takes one of a few values, refused anywhere in the API: one wording, naming the values and the one given (oneOf, lib/units.ts)', async (t) => {
  const { rollingSink, decode, encode, encodeNdjson, openStore } = await import('../lib/index.js')
  const { kronos } = await import('../lib/events/client.js')
  const { ship } = await import('../lib/events/ship.js')
  const { stamp } = await import('../lib/events/stamp.js')
  const { serveEvents } = await import('../lib/events/server/serve-events.js')
  const dir = '/nonexistent/shoebox-one-of-test' // nothing is created: each is refused before
  const client = kronos('http://127.0.0.1:1')
  const cases: Array<[string, () => unknown, string, string]> = [
    ['encode format', () => encode({ format: 'v3' as 'v2' }), 'format', `must be 'v1' or 'v2', got "v3"`],
    ['encode checksum', () => encode({ checksum: 'md5' as 'crc32' }), 'checksum', `must be 'crc32' or 'crc32c', got "md5"`],
    ['decode mode', () => decode({ mode: 'loose' as 'strict' }), 'mode', `must be 'strict' or 'lenient', got "loose"`],
    ['rollingSink fsync', () => rollingSink({ dir, fsync: 'sometimes' as 'never' }), 'fsync', `must be 'never', 'onClose', 'interval' or 'always', got "sometimes"`],
    ['encodeNdjson onInvalid', () => encodeNdjson({ onInvalid: 'drop' as 'skip' }), 'onInvalid', `must be 'error', 'skip' or 'end', got "drop"`],
    ['stamp timeUnit', () => stamp({ stream: 's', timeUnit: 'us' as 'ms' }), 'timeUnit', `must be 'kronos', 'ms' or 's', got "us"`],
    ['stamp onInvalid', () => stamp({ stream: 's', onInvalid: 1 as unknown as 'event' }), 'onInvalid', `must be 'error' or 'event', got 1`],
    ['ship onOverflow', () => ship('http://127.0.0.1:1', { stream: 's', onOverflow: 'wait' as 'block' }), 'onOverflow', `must be 'block', 'drop' or 'spill', got "wait"`],
    ['kronos get order', () => client.get('s', 0, 1, { order: 'up' as 'ascending' }), 'order', `must be 'ascending' or 'descending', got "up"`],
    ['kronos get format', () => client.get('s', 0, 1, { format: 'csv' as 'text' }), 'format', `must be 'object' or 'text', got "csv"`],
    ['s3 writer verify', () => openStore('s3://bucket-x').writer('k', { verify: 'md5' as 'etag' }), 'verify', `must be 'checksum', 'etag', false or true, got "md5"`]
  ]
  for (const [what, fn, option, reason] of cases) {
    t.match(refusal(fn), { code: 'SHOEBOX_INVALID_OPTION', option, reason, message: `option ${option}: ${reason}` }, what)
  }
  await t.rejects(serveEvents({ data: dir, mode: 'both' as 'all' }), { code: 'SHOEBOX_INVALID_OPTION', option: 'mode', reason: `must be 'all', 'readonly' or 'collector', got "both"` }, 'serveEvents mode')
})

t.test('roll.size and roll.age of 0, stamp\'s time, ship\'s stream: refused naming the value given, as oneOf() quotes it', async (t) => {
  const { rollingSink } = await import('../lib/index.js')
  const { ship } = await import('../lib/events/ship.js')
  const { stamp } = await import('../lib/events/stamp.js')
  const dir = '/nonexistent/shoebox-value-test' // nothing is created: each is refused in its constructor
  const cases: Array<[string, () => unknown, string, string]> = [
    ['roll.size 0', () => rollingSink({ dir, roll: { size: 0 } }), 'roll.size', 'must be above 0, got 0'],
    ['roll.size \'0KiB\'', () => rollingSink({ dir, roll: { size: '0KiB' } }), 'roll.size', 'must be above 0, got "0KiB"'],
    ['roll.age \'0s\'', () => rollingSink({ dir, roll: { age: '0s' } }), 'roll.age', 'must be above 0, got "0s"'],
    ['roll.records \'5\'', () => rollingSink({ dir, roll: { records: '5' as unknown as number } }), 'roll.records', 'must be a positive integer, got "5"'],
    ['stamp time \'now\'', () => stamp({ stream: 's', time: 'now' as unknown as () => number }), 'time', 'must be a function, got "now"'],
    ['ship stream \'\'', () => ship('http://127.0.0.1:1', { stream: '' }), 'stream', 'must be a stream name, got ""'],
    ['ship stream 5', () => ship('http://127.0.0.1:1', { stream: 5 as unknown as string }), 'stream', 'must be a stream name, got 5']
  ]
  for (const [what, fn, option, reason] of cases) {
    t.match(refusal(fn), { code: 'SHOEBOX_INVALID_OPTION', option, reason, message: `option ${option}: ${reason}` }, what)
  }
})

t.test('a CLI flag that takes one of a few values is refused in the API\'s words, naming the flag (lib/cli/options.ts oneOf)', async (t) => {
  for (const [args, line] of [
    [['encode', '--format', 'v3'], '--format: must be \'v1\' or \'v2\', got "v3"'],
    [['encode', '--compress', 'brotli'], '--compress: must be \'none\', \'gzip\' or \'zstd\', got "brotli"'],
    [['ship', 'http://127.0.0.1:1', '--stream', 's', '--on-overflow', 'wait'], '--on-overflow: must be \'block\', \'drop\' or \'spill\', got "wait"']
  ] as const) {
    const r = await cli([...args])
    t.equal(r.code, 2, args.join(' '))
    t.equal(r.stderr, `shoebox ${args[0]}: ${line}\n(try 'shoebox ${args[0]} --help')\n`, args.join(' '))
  }
})

t.test('the uploader\'s counts are refused as every count is, naming the value', async (t) => {
  const { SealedUploader } = await import('../lib/roll/uploader.js')
  const { FileStore } = await import('../lib/store/file-store.js')
  const dir = '/nonexistent/shoebox-uploader-count-test'
  t.match(refusal(() => new SealedUploader(dir, new FileStore(dir), { concurrency: 0 })), { option: 'upload.concurrency', reason: 'must be a positive integer, got 0' })
  t.match(refusal(() => new SealedUploader(dir, new FileStore(dir), { attempts: 1.5 })), { option: 'upload.attempts', reason: 'must be a positive integer, got 1.5' })
})

t.test('a yes/no option given anything but true or false is refused naming it, not read by its truthiness (gzip: \'false\' wrote gzip)', async (t) => {
  const { rollingSink, archiveSource } = await import('../lib/index.js')
  const { SealedUploader } = await import('../lib/roll/uploader.js')
  const dir = '/nonexistent/shoebox-flag-test' // nothing is created: each is refused in its constructor
  const store = openStoreFor(dir)
  const cases: Array<[string, () => unknown, string, string]> = [
    ['gzip \'false\'', () => rollingSink({ dir, gzip: 'false' as unknown as boolean }), 'gzip', 'must be true, false or { level }, got "false"'],
    ['gzip \'yes\'', () => rollingSink({ dir, gzip: 'yes' as unknown as boolean }), 'gzip', 'must be true, false or { level }, got "yes"'],
    ['gzip 0', () => rollingSink({ dir, gzip: 0 as unknown as boolean }), 'gzip', 'must be true, false or { level }, got 0'],
    ['gzip null', () => rollingSink({ dir, gzip: null as unknown as boolean }), 'gzip', 'must be true, false or { level }, got null'],
    ['recover \'no\'', () => rollingSink({ dir, recover: 'no' as unknown as boolean }), 'recover', 'must be true or false, got "no"'],
    ['roll.align 1', () => rollingSink({ dir, roll: { age: '1h', align: 1 as unknown as boolean } }), 'roll.align', 'must be true or false, got 1'],
    ['upload.deleteLocal \'true\'', () => new SealedUploader(dir, store, { deleteLocal: 'true' as unknown as boolean }), 'upload.deleteLocal', 'must be true or false, got "true"'],
    ['upload.early \'false\'', () => new SealedUploader(dir, store, { early: 'false' as unknown as boolean }), 'upload.early', 'must be true or false, got "false"'],
    ['follow \'false\'', () => archiveSource(`${dir}/*`, { follow: 'false' as unknown as boolean }), 'follow', 'must be true or false, got "false"'],
    ['allowEmpty \'true\'', () => archiveSource(`${dir}/*`, { allowEmpty: 'true' as unknown as boolean }), 'allowEmpty', 'must be true or false, got "true"']
  ]
  for (const [what, fn, option, reason] of cases) {
    t.match(refusal(fn), { code: 'SHOEBOX_INVALID_OPTION', option, reason }, what)
  }
  await store.close()
})

t.test("pack's dot and skipUnreadable, unpack's overwrite and fsync: yes/no too (a string 'true' was quietly read as no)", async (t) => {
  const { packFiles, pack, unpack } = await import('../lib/index.js')
  const dir = '/nonexistent/shoebox-flag-test' // nothing is created: each is refused before any file is touched
  t.match(refusal(() => packFiles(dir, { dot: 'true' as unknown as boolean })), { code: 'SHOEBOX_INVALID_OPTION', option: 'dot', reason: 'must be true or false, got "true"' })
  t.match(refusal(() => packFiles(dir, { skipUnreadable: 1 as unknown as boolean })), { code: 'SHOEBOX_INVALID_OPTION', option: 'skipUnreadable', reason: 'must be true or false, got 1' })
  await t.rejects(pack(dir, { to: `${dir}/out`, dot: 'false' as unknown as boolean }), { code: 'SHOEBOX_INVALID_OPTION', option: 'dot' }, 'pack() refuses it through packFiles()')
  await t.rejects(unpack(`${dir}/*`, { out: `${dir}/out`, overwrite: 'true' as unknown as boolean }), { code: 'SHOEBOX_INVALID_OPTION', option: 'overwrite', reason: 'must be true or false, got "true"' })
  await t.rejects(unpack(`${dir}/*`, { out: `${dir}/out`, fsync: 'yes' as unknown as boolean }), { code: 'SHOEBOX_INVALID_OPTION', option: 'fsync', reason: 'must be true or false, got "yes"' })
})

t.test("recoverDirectory's force, metaIngest's replace/ensure/ensureFiles/fsync, ship()'s exitHooks: yes/no too (read with === true or by truthiness)", async (t) => {
  const { recoverDirectory } = await import('../lib/index.js')
  const { metaIngest } = await import('../lib/meta/index.js')
  const { ship } = await import('../lib/events/index.js')
  const dir = '/nonexistent/shoebox-flag-test' // nothing is created: each is refused before any file is touched
  await t.rejects(recoverDirectory(dir, { force: 'true' as unknown as boolean }), { code: 'SHOEBOX_INVALID_OPTION', option: 'force', reason: 'must be true or false, got "true"' })
  for (const flag of ['replace', 'ensure', 'ensureFiles', 'fsync'] as const) {
    t.match(refusal(() => metaIngest(dir, { [flag]: 'false' as unknown as boolean })), { code: 'SHOEBOX_INVALID_OPTION', option: flag, reason: 'must be true or false, got "false"' }, `metaIngest ${flag}`)
  }
  t.match(refusal(() => ship('http://127.0.0.1:9', { exitHooks: 'false' as unknown as boolean })), { code: 'SHOEBOX_INVALID_OPTION', option: 'exitHooks', reason: 'must be true or false, got "false"' })
  // Refused before the stream exists: no half-made stream fails later with an 'error' nobody listens for (that crashed).
  t.match(refusal(() => metaIngest('')), { code: 'SHOEBOX_INVALID_OPTION', option: 'base', reason: 'the metadir base path is required' })
  await new Promise((resolve) => setTimeout(resolve, 50))
})

t.test('a misspelt rollingSink option is refused naming it, not ignored ({ rollSize } wrote one file until end())', async (t) => {
  const { rollingSink } = await import('../lib/index.js')
  const dir = '/nonexistent/shoebox-unknown-option-test' // nothing is created: each is refused in the constructor
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ rollSize: '10MB' }, 'rollSize'],
    [{ gz: true }, 'gz'],
    [{ roll: { maxSize: '10MB' } }, 'roll.maxSize'],
    [{ roll: { size: '10MB', recordCount: 5 } }, 'roll.recordCount'],
    [{ upload: { to: dir, deleteLocaly: true } }, 'upload.deleteLocaly']
  ]
  for (const [options, option] of cases) {
    t.match(refusal(() => rollingSink({ dir, ...options })), { code: 'SHOEBOX_INVALID_OPTION', option, reason: /^is not an option of / }, option)
  }
  t.match(refusal(() => rollingSink({ dir, roll: '10MB' as unknown as { size: string } })), { option: 'roll', reason: /^must be an object/ }, 'roll as a string')
})

t.test('every documented rollingSink option is known', async (t) => {
  const { rollingSink } = await import('../lib/index.js')
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'shoebox-known-options-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const sink = rollingSink({
    dir,
    template: 'x-{seq}.shoebox',
    roll: { size: '1MiB', age: '1h', align: true, records: 10, policy: { check: () => false } },
    gzip: false,
    compress: 'none',
    flushInterval: 0,
    fsync: 'never',
    blockSize: '64KiB',
    maxPending: '1MiB',
    recover: false,
    clock: Date.now,
    format: 'v2',
    checksum: 'crc32',
    maxRecordSize: 1 << 20,
    chunkSize: 4096,
    upload: { to: join(dir, 'up'), storeOptions: {}, concurrency: 1, deleteLocal: false, attempts: 1, retryDelay: '1s', partSize: '5MiB', queueSize: 1, early: false }
  } as Parameters<typeof rollingSink>[0] & { chunkSize: number })
  sink.end({ payload: 'a' })
  await new Promise((resolve, reject) => { sink.on('close', resolve); sink.on('error', reject) })
  t.pass('accepted, and the sink ran')
})

t.test('positions of another type is refused, not read as false (positions: \'yes\' gave records without positions)', async (t) => {
  const { archiveSource, decode } = await import('../lib/index.js')
  t.match(refusal(() => archiveSource('/nonexistent/shoebox-positions-test/*', { positions: 'yes' as unknown as boolean })),
    { code: 'SHOEBOX_INVALID_OPTION', option: 'positions', reason: 'must be true, false or a list of positions, got "yes"' }, 'archiveSource')
  t.match(refusal(() => decode({ positions: 1 as unknown as boolean })), { code: 'SHOEBOX_INVALID_OPTION', option: 'positions', reason: 'must be true or false, got 1' }, 'decode')
})

t.test('an explicit null is refused as a bad value, not taken as "not given": undefined alone means the default', async (t) => {
  const { rollingSink, openStore, packFiles, zstd, gzip, encode } = await import('../lib/index.js')
  const { kronos } = await import('../lib/events/client.js')
  const { ship } = await import('../lib/events/ship.js')
  const { serveEvents } = await import('../lib/events/server/serve-events.js')
  const { retry } = await import('../lib/transfer/retry.js')
  const dir = '/nonexistent/shoebox-null-test' // nothing is created: each is refused before
  const client = kronos('http://127.0.0.1:1')
  const cases: Array<[string, () => unknown, string, string]> = [
    // Counts (positiveCount).
    ['kronos attempts', () => kronos('http://127.0.0.1:1', { attempts: null as unknown as number }), 'attempts', 'must be a positive integer, got null'],
    ['ship maxInFlight', () => ship('http://127.0.0.1:1', { stream: 's', maxInFlight: null as unknown as number }), 'maxInFlight', 'must be a positive integer, got null'],
    ['ship retry.attempts', () => ship('http://127.0.0.1:1', { stream: 's', retry: { attempts: null as unknown as number } }), 'retry.attempts', 'must be a positive integer, got null'],
    ['s3 writer queueSize', () => openStore('s3://bucket-x').writer('k', { queueSize: null as unknown as number }), 'queueSize', 'must be a positive integer, got null'],
    ['packFiles readAttempts', () => packFiles(dir, { readAttempts: null as unknown as number }), 'readAttempts', 'must be a positive integer, got null'],
    // Sizes and durations (sizeOption, durationOption).
    ['rollingSink blockSize', () => rollingSink({ dir, blockSize: null as unknown as number }), 'blockSize', 'expected a size such as 100MiB, 10MB or 4096, got null'],
    ['rollingSink flushInterval', () => rollingSink({ dir, flushInterval: null as unknown as number }), 'flushInterval', 'expected a duration such as 10m, 1h, 30s or 250ms, got null'],
    ['s3 writer partSize', () => openStore('s3://bucket-x').writer('k', { partSize: null as unknown as number }), 'partSize', 'expected a size such as 100MiB, 10MB or 4096, got null'],
    ['ship batchBytes', () => ship('http://127.0.0.1:1', { stream: 's', batchBytes: null as unknown as number }), 'batchBytes', 'expected a size such as 100MiB, 10MB or 4096, got null'],
    ['kronos timeout', () => kronos('http://127.0.0.1:1', { timeout: null as unknown as number }), 'timeout', 'expected a duration such as 10m, 1h, 30s or 250ms, got null'],
    ['kronos baseDelay', () => kronos('http://127.0.0.1:1', { baseDelay: null as unknown as number }), 'baseDelay', 'expected a duration such as 10m, 1h, 30s or 250ms, got null'],
    ['s3 maxAttempts', () => openStore('s3://bucket-x', { maxAttempts: null as unknown as number }), 'maxAttempts', 'must be a positive integer, got null'],
    ['s3 requestTimeout', () => openStore('s3://bucket-x', { requestTimeout: null as unknown as number }), 'requestTimeout', 'expected a duration such as 10m, 1h, 30s or 250ms, got null'],
    // One of a few values, and levels.
    ['ship onOverflow', () => ship('http://127.0.0.1:1', { stream: 's', onOverflow: null as unknown as 'block' }), 'onOverflow', "must be 'block', 'drop' or 'spill', got null"],
    ['kronos get order', () => client.get('s', 0, 1, { order: null as unknown as 'ascending' }), 'order', "must be 'ascending' or 'descending', got null"],
    ['s3 writer verify', () => openStore('s3://bucket-x').writer('k', { verify: null as unknown as 'etag' }), 'verify', "must be 'checksum', 'etag', false or true, got null"],
    ['zstd level', () => zstd({ level: null as unknown as number }), 'zstd.level', 'must be an integer from -131072 to 22, not 0, got null'],
    ['gzip level', () => gzip({ level: null as unknown as number }), 'gzip.level', 'must be an integer from 1 to 9, got null'],
    ['encode maxRecordSize', () => encode({ maxRecordSize: null as unknown as number }), 'maxRecordSize', 'expected a size such as 100MiB, 10MB or 4096, got null']
  ]
  for (const [what, fn, option, reason] of cases) {
    t.match(refusal(fn), { code: 'SHOEBOX_INVALID_OPTION', option, reason, message: `option ${option}: ${reason}` }, what)
  }
  await t.rejects(retry(async () => 1, { attempts: null as unknown as number }), { code: 'SHOEBOX_INVALID_OPTION', option: 'attempts', reason: 'must be a positive integer, got null' }, 'retry attempts')
  await t.rejects(serveEvents({ data: dir, port: null as unknown as number }), { code: 'SHOEBOX_INVALID_OPTION', option: 'port', reason: 'must be 0..65535, got null' }, 'serveEvents port')
  await t.rejects(serveEvents({ data: dir, mode: null as unknown as 'all' }), { code: 'SHOEBOX_INVALID_OPTION', option: 'mode', reason: "must be 'all', 'readonly' or 'collector', got null" }, 'serveEvents mode')
  await t.rejects(serveEvents({ data: dir, maxBody: null as unknown as string }), { code: 'SHOEBOX_INVALID_OPTION', option: 'maxBody', reason: 'expected a size such as 100MiB, 10MB or 4096, got null' }, 'serveEvents maxBody')
})

t.test("packFiles' readAttempts is a count, refused in positiveCount()'s words (it quoted with String())", async (t) => {
  const { packFiles } = await import('../lib/index.js')
  const dir = '/nonexistent/shoebox-read-attempts-test'
  for (const [value, reason] of [[0, 'must be a positive integer, got 0'], [1.5, 'must be a positive integer, got 1.5'], ['3', 'must be a positive integer, got "3"'], [NaN, 'must be a positive integer, got NaN']] as const) {
    t.match(refusal(() => packFiles(dir, { readAttempts: value as number })), { code: 'SHOEBOX_INVALID_OPTION', option: 'readAttempts', reason, message: `option readAttempts: ${reason}` }, String(value))
  }
})

t.test("openStore('s3://...') checks maxAttempts (a count) and requestTimeout (a duration) at once, not when the first request makes the client", async (t) => {
  const { openStore } = await import('../lib/index.js')
  const { clientConfig } = await import('../lib/store/s3-config.js')
  t.match(refusal(() => openStore('s3://bucket-x', { maxAttempts: 0 })), { code: 'SHOEBOX_INVALID_OPTION', option: 'maxAttempts', reason: 'must be a positive integer, got 0' })
  t.match(refusal(() => openStore('s3://bucket-x', { requestTimeout: 'soon' })), { code: 'SHOEBOX_INVALID_OPTION', option: 'requestTimeout', reason: 'expected a duration such as 10m, 1h, 30s or 250ms, got "soon"' })
  // A duration string is read as the milliseconds it names, as every duration option takes it.
  const config = clientConfig({ requestTimeout: '2m', maxAttempts: 3, env: {} })
  t.same({ maxAttempts: config.maxAttempts, requestTimeout: (config.requestHandler as { socketTimeout: number }).socketTimeout }, { maxAttempts: 3, requestTimeout: 120_000 })
  t.same(clientConfig({ env: {} }).maxAttempts, 5, 'the default, when not given')
})

t.test("decode() and ArchiveDecoder's baseOffset: a whole number of bytes, refused at once (a string was joined to every offset reported)", async (t) => {
  const { ArchiveDecoder, decode } = await import('../lib/index.js')
  const events = { record: () => {}, corrupt: () => {} }
  for (const value of ['10', -1, 1.5, Number.NaN, null]) {
    const reason = `must be a whole number of bytes, got ${typeof value === 'number' && Number.isNaN(value) ? 'NaN' : JSON.stringify(value)}`
    t.match(refusal(() => new ArchiveDecoder(events, { baseOffset: value as number })), { code: 'SHOEBOX_INVALID_OPTION', option: 'baseOffset', reason }, `ArchiveDecoder ${String(value)}`)
    t.match(refusal(() => decode({ baseOffset: value as number })), { code: 'SHOEBOX_INVALID_OPTION', option: 'baseOffset', reason }, `decode ${String(value)}`)
  }
  t.doesNotThrow(() => new ArchiveDecoder(events, { baseOffset: 4096 }))
})

t.test('an options argument that is null, text, a number or an array is refused naming the factory, not a TypeError from inside or taken as none', async (t) => {
  const lib = await import('../lib/index.js')
  const events = await import('../lib/events/index.js')
  const factories: Array<[string, (options: unknown) => unknown]> = [
    ['encode()', (o) => lib.encode(o as undefined)],
    ['decode()', (o) => lib.decode(o as undefined)],
    ['encodeNdjson()', (o) => lib.encodeNdjson(o as undefined)],
    ['RecordsToNdjson', (o) => new lib.RecordsToNdjson(o as undefined)],
    ['archiveSource()', (o) => lib.archiveSource('/nonexistent/shoebox-options-test/*', o as undefined)],
    ['zstd()', (o) => lib.zstd(o as undefined)],
    ['zstdDecompress()', (o) => lib.zstdDecompress(o as undefined)],
    ['gunzipMembers()', (o) => lib.gunzipMembers(o as undefined)],
    ['openStore()', (o) => lib.openStore('/nonexistent/shoebox-options-test', o as undefined)],
    ['uploadSink()', (o) => lib.uploadSink('/nonexistent/shoebox-options-test', 'k', o as undefined)],
    ['stamp()', (o) => events.stamp(o as undefined)],
    ['stampNdjson()', (o) => events.stampNdjson(o as undefined)],
    ['ship()', (o) => events.ship('http://127.0.0.1:1', o as undefined)],
    ['kronos()', (o) => events.kronos('http://127.0.0.1:1', o as undefined)]
  ]
  for (const [factory, make] of factories) {
    for (const [given, shown] of [[null, 'null'], ['lenient', '"lenient"'], [5, '5'], [[], '[]']] as const) {
      t.match(refusal(() => make(given)), { code: 'SHOEBOX_INVALID_OPTION', option: 'options', reason: `${factory} takes an object of options or none, got ${shown}` }, `${factory} given ${shown}`)
    }
  }
  await t.rejects(lib.recoverDirectory('/nonexistent/shoebox-options-test', null as unknown as undefined),
    { code: 'SHOEBOX_INVALID_OPTION', option: 'options', reason: 'recoverDirectory() takes an object of options or none, got null' }, 'recoverDirectory()')
})

t.test("decode()'s file and encodeNdjson()'s source are names: anything but a string is refused, not printed as '[object Object]' in every error", async (t) => {
  const { decode, encodeNdjson } = await import('../lib/index.js')
  for (const [given, shown] of [[{ name: 'x' }, '{"name":"x"}'], [5, '5'], [null, 'null']] as const) {
    t.match(refusal(() => decode({ file: given as unknown as string })), { code: 'SHOEBOX_INVALID_OPTION', option: 'file', reason: `must be a string, got ${shown}` }, `decode file ${shown}`)
    t.match(refusal(() => encodeNdjson({ source: given as unknown as string })), { code: 'SHOEBOX_INVALID_OPTION', option: 'source', reason: `must be a string, got ${shown}` }, `encodeNdjson source ${shown}`)
  }
  t.equal(decode({ file: 'a.shoebox' }).file, 'a.shoebox')
})

t.test('an S3 store refuses endpoint, region, pathStyle and credentials of the wrong form at once, never quoting a credential', async (t) => {
  const { openStore } = await import('../lib/index.js')
  const open = (options: Record<string, unknown>): unknown => openStore('s3://bucket-x/p', options)
  // Each was taken, and the first request failed in the SDK's words ('region is not a function', 'Custom
  // endpoint `undefined//undefinedundefined` was not a valid URI', printed on stderr as well).
  for (const [options, option, reason] of [
    [{ endpoint: 5 }, 'endpoint', 'must be an http:// or https:// URL, got 5'],
    [{ endpoint: 'not a url' }, 'endpoint', 'must be an http:// or https:// URL, got "not a url"'],
    [{ endpoint: 'localhost:9000' }, 'endpoint', 'must be an http:// or https:// URL, got "localhost:9000"'],
    [{ region: 5 }, 'region', 'must be a region name such as us-east-1, got 5'],
    [{ region: '' }, 'region', 'must be a region name such as us-east-1, got ""'],
    [{ pathStyle: 'yes' }, 'pathStyle', 'must be true or false, got "yes"'],
    [{ credentials: 'x' }, 'credentials', 'must be { accessKeyId, secretAccessKey, sessionToken? } (strings) or a provider function'],
    [{ credentials: { accessKeyId: 'AKID', secretAccessKey: 42 } }, 'credentials', 'must be { accessKeyId, secretAccessKey, sessionToken? } (strings) or a provider function']
  ] as const) {
    t.match(refusal(() => open(options)), { code: 'SHOEBOX_INVALID_OPTION', option, reason, message: `option ${option}: ${reason}` }, JSON.stringify(options))
  }
  const secret = refusal(() => open({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'sEcReT', sessionToken: 7 } }))
  t.notMatch(secret.message, /sEcReT|AKID/, 'the credentials are not quoted')
  // An endpoint written with a user name and password (as for MinIO elsewhere) is refused, never quoting them.
  for (const endpoint of ['ftp://AKID:sEcReT@minio:9000', 'http//AKID:sEcReT@minio:9000', 'minio:9000@AKID:sEcReT@x/y']) {
    const refused = refusal(() => open({ endpoint }))
    t.match(refused, { code: 'SHOEBOX_INVALID_OPTION', option: 'endpoint', reason: /^must be an http:\/\/ or https:\/\/ URL, got "[^"]*\*\*\*@[^"]*"$/ }, endpoint)
    t.notMatch(`${refused.message} ${String(refused.stack)} ${String((refused as { reason?: unknown }).reason)}`, /sEcReT/, `${endpoint}: the password is not quoted`)
  }
  // SHOEBOX_S3_ENDPOINT is the endpoint's default: one that is no http(s) URL was taken, and the first request failed
  // in the SDK's words ('Custom endpoint `htp://minio:9000` was not a valid URI'), naming neither it nor the variable.
  for (const value of ['htp://AKID:sEcReT@minio:9000', 'minio:9000']) {
    t.throws(() => open({ env: { SHOEBOX_S3_ENDPOINT: value } }), { code: 'SHOEBOX_BAD_URL', message: /^SHOEBOX_S3_ENDPOINT \(the default endpoint\) must be an http:\/\/ or https:\/\/ URL, got "(htp:\/\/\*\*\*@)?minio:9000"$/ }, value)
  }
  t.doesNotThrow(() => open({ env: { SHOEBOX_S3_ENDPOINT: 'htp://x' }, endpoint: 'http://127.0.0.1:9000' }), 'an endpoint given wins over the variable')
  t.doesNotThrow(() => open({ env: { SHOEBOX_S3_ENDPOINT: 'http://127.0.0.1:9000' } }))
  for (const options of [{ endpoint: 'https://s3.example.com:9000/' }, { region: 'eu-west-1', pathStyle: true }, { credentials: async () => ({ accessKeyId: 'a', secretAccessKey: 'b' }) }]) {
    t.doesNotThrow(() => open(options), JSON.stringify(options))
  }
})

t.test("encodeNdjson({ validate }) takes true or false: 'false' (a string) was read as yes, and a line that is no JSON failed the stream", async (t) => {
  const { encodeNdjson } = await import('../lib/index.js')
  for (const [given, shown] of [['false', '"false"'], [1, '1'], [null, 'null']] as const) {
    t.match(refusal(() => encodeNdjson({ validate: given as unknown as boolean })), { code: 'SHOEBOX_INVALID_OPTION', option: 'validate', reason: `must be true or false, got ${shown}` }, shown)
  }
  t.doesNotThrow(() => encodeNdjson({ validate: false }))
})
