/**
 * The `shoebox write` flags the README promises, each with a test that fails
 * if the flag is ignored: --fsync (every value, counted at FileHandle.sync),
 * --meta-from-field (metadata lifted from each line's JSON), --roll-age and
 * --roll-align (a child process whose clock the test sets through a preload,
 * so the rolls depend on the clock chosen, not on how fast the machine is).
 */
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { ArchiveDecoder, naturalCompare, type ShoeboxRecord } from '../../lib/index.js'
import { cli } from '../cli-run.js'
import { startCli } from '../fixtures-roll/cli-child.js'
import { countSyncs, decodeFile, tempDir } from '../fixtures-roll/util.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { transpileTree } from '../transpile.js'

const CLOCK_TS = fileURLToPath(new URL('../fixtures-roll/clock.ts', import.meta.url))

function lines (from: number, n: number): string[] {
  return Array.from({ length: n }, (_, k) => JSON.stringify({ i: from + k, text: 'héllo 📦' }))
}

/** Payload lines of each sealed file in `dir`, in natural name order, with the names. */
function files (dir: string): Array<[string, string[]]> {
  return fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort(naturalCompare)
    .map((n) => [n, decodeFile(path.join(dir, n)).map((d) => d.record.payload.toString('utf8'))])
}

t.test('--fsync: each value is accepted and syncs as it says; a bad one is a usage error', async (t) => {
  // Counts of FileHandle.sync() calls (files and directories): the command runs in this process.
  const syncs = await countSyncs(t)
  const input = lines(0, 300).join('\n') + '\n'
  // Three files of one block each (no timed flush): per file, onClose syncs the file and the
  // directory at the seal; interval also the directory when the file is created; always also each block.
  const expected = { never: 0, onClose: 6, interval: 9, always: 12 }
  const counted: Record<string, number> = {}
  for (const fsync of ['never', 'onClose', 'interval', 'always'] as const) {
    const dir = tempDir(t)
    syncs.reset()
    const r = await cli(['write', dir, '--fsync', fsync, '--roll-records', '100', '--flush-interval', '1h'], input)
    t.equal(r.code, 0, `--fsync ${fsync}: exit 0`)
    counted[fsync] = syncs.count()
    t.same(files(dir).map(([, payloads]) => payloads.length), [100, 100, 100], `--fsync ${fsync}: three files of 100`)
    t.same(files(dir).flatMap(([, payloads]) => payloads), lines(0, 300))
  }
  t.same(counted, expected, 'fsync calls per value')
  const bad = await cli(['write', path.join(tempDir(t), 'never-made'), '--fsync', 'sometimes'], input)
  t.equal(bad.code, 2)
  t.match(bad.stderr, /^shoebox write: --fsync: must be 'never', 'onClose', 'interval' or 'always', got "sometimes"\n/)
})

t.test('--meta-from-field lifts metadata from each line\'s JSON into the written records', async (t) => {
  const dir = tempDir(t)
  const input = [
    '{"type":"order","user":{"id":7}}',
    '{"type":"refund","user":{"id":"ü-8"}}',
    '{"type":"ping"}'
  ].join('\n') + '\n'
  const r = await cli(['write', dir, '--meta', 'src=cli', '--meta-from-field', 'type', '--meta-from-field', 'uid=user.id'], input)
  t.equal(r.code, 0, r.stderr)
  const records: ShoeboxRecord[] = []
  for (const [name] of files(dir)) records.push(...decodeFile(path.join(dir, name)).map((d) => d.record))
  t.same(records.map((rec) => rec.metadata), [
    { src: 'cli', type: 'order', uid: '7' },
    { src: 'cli', type: 'refund', uid: 'ü-8' },
    { src: 'cli', type: 'ping' }
  ])
  t.same(records.map((rec) => rec.payload.toString('utf8')), input.trim().split('\n'), 'the payloads are the lines')
  const bad = await cli(['write', path.join(tempDir(t), 'never-made'), '--meta-from-field', 'k='], input)
  t.equal(bad.code, 2, 'an empty key is a usage error')
})

const bin = cliBinary()
const clock = transpileTree(CLOCK_TS, tempDir(t, 'shoebox-cli-flags-clock-'))

/** Records in `dir`, sealed or not; -1 while a temporary file is caught mid-write. */
function recordsOnDisk (dir: string): number {
  let n = 0
  for (const name of fs.readdirSync(dir)) {
    let count = 0
    const decoder = new ArchiveDecoder({ record () { count++ }, corrupt () { count = -Infinity } }, { mode: 'strict' })
    try {
      decoder.write(fs.readFileSync(path.join(dir, name)))
      decoder.end()
    } catch {
      return -1
    }
    if (count < 0) return -1
    n += count
  }
  return n
}

/**
 * Run `write dir args` with the clock at each of `times` in turn: set the
 * clock, send the batch, wait until its records are on disk, then the next.
 */
async function writeAtTimes (t: Test, args: string[], batches: Array<[string, string[]]>): Promise<string> {
  const dir = path.join(tempDir(t), 'out')
  const clockFile = path.join(tempDir(t), 'now')
  const setClock = (iso: string): void => {
    // Write and rename, so the child never reads a half-written time.
    fs.writeFileSync(clockFile + '.tmp', String(Date.parse(iso)))
    fs.renameSync(clockFile + '.tmp', clockFile)
  }
  setClock(batches[0][0])
  const { child, done } = startCli(t, bin, ['write', dir, '--flush-interval', '20ms', '--template', '%Y%m%dT%H%M%S-{seq}.shoebox', ...args], {
    nodeArgs: ['--import', pathToFileURL(clock).href],
    env: { SHOEBOX_TEST_CLOCK_FILE: clockFile }
  })
  let sent = 0
  for (const [time, batch] of batches) {
    setClock(time)
    child.stdin.write(batch.map((l) => l + '\n').join(''))
    sent += batch.length
    for (let waited = 0; !(fs.existsSync(dir) && recordsOnDisk(dir) === sent); waited += 20) {
      if (waited > 60_000 || child.exitCode !== null) throw new Error(`the batch at ${time} never reached the disk: ${(await done).stderr}`)
      await sleep(20)
    }
  }
  child.stdin.end()
  const r = await done
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr })
  return dir
}

t.test('--roll-age: a record at or past the age starts a new file (the clock is the test\'s)', async (t) => {
  const dir = await writeAtTimes(t, ['--roll-age', '10m'], [
    ['2030-01-01T00:00:00.000Z', lines(0, 3)],
    ['2030-01-01T00:09:59.000Z', lines(3, 2)],
    ['2030-01-01T00:10:00.000Z', lines(5, 3)],
    ['2030-01-01T00:19:00.000Z', lines(8, 2)]
  ])
  t.same(files(dir), [
    ['20300101T000000-000000.shoebox', lines(0, 5)],
    ['20300101T001000-000001.shoebox', lines(5, 5)]
  ], 'one file per 10 minutes from its first record')
})

t.test('--roll-align: age rolls fall on the clock\'s period boundaries (UTC)', async (t) => {
  const batches: Array<[string, string[]]> = [
    ['2030-01-01T10:59:59.000Z', lines(0, 3)],
    ['2030-01-01T11:00:00.500Z', lines(3, 3)],
    ['2030-01-01T11:59:00.000Z', lines(6, 2)]
  ]
  const aligned = await writeAtTimes(t, ['--roll-age', '1h', '--roll-align'], batches)
  t.same(files(aligned), [
    ['20300101T105959-000000.shoebox', lines(0, 3)],
    ['20300101T110000-000001.shoebox', lines(3, 5)]
  ], 'aligned: the file opened at 10:59:59 ends at 11:00')
  const unaligned = await writeAtTimes(t, ['--roll-age', '1h'], batches)
  t.same(files(unaligned), [['20300101T105959-000000.shoebox', lines(0, 8)]], 'without --roll-align: one hour from the first record')
  const r = await cli(['write', path.join(tempDir(t), 'never-made'), '--roll-align'], '{}\n')
  t.equal(r.code, 2, '--roll-align without --roll-age is a usage error')
  t.match(r.stderr, /^shoebox write: --roll-align needs --roll-age\n/)
})

t.test('the upload flags without --to are a usage error, and make no directory (--endpoint was ignored without a word)', async (t) => {
  for (const flags of [['--delete-local'], ['--upload-concurrency', '2'], ['--endpoint', 'http://127.0.0.1:9000']]) {
    const dir = path.join(tempDir(t), 'never-made')
    const r = await cli(['write', dir, ...flags], '{}\n')
    t.equal(r.code, 2, flags.join(' '))
    t.match(r.stderr, /^shoebox write: --delete-local, --upload-concurrency and --endpoint go with --to URL \(they are for its uploads\)\n/, flags.join(' '))
    t.notOk(fs.existsSync(dir), 'no directory made')
  }
})

t.test('a DIR whose name is not UTF-8, as the shell passes it (each bad byte as U+FFFD), is refused: the sink would make another directory', async (t) => {
  // `shoebox write logs-<0xe9>` wrote every record into a new directory named with U+FFFD, beside the one named.
  const base = tempDir(t)
  const named = Buffer.concat([Buffer.from(path.join(base, 'caf')), Buffer.from([0xe9])])
  fs.mkdirSync(named)
  const given = path.join(base, 'caf\uFFFD')
  const r = await cli(['write', given], '{"a":1}\n')
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox write: cannot write into ${given}: its name is not UTF-8 (each bad byte arrives as U+FFFD), and a directory of the name as it reads would be another one; nothing written (rename it, or run 'shoebox write .' inside it)\n`)
  t.same(fs.readdirSync(base), ['caf\uFFFD'], 'only the directory there before (listed as it reads)')
  t.same(fs.readdirSync(base, { encoding: 'buffer' }), [Buffer.from([0x63, 0x61, 0x66, 0xe9])], 'no other directory made')
  t.same(fs.readdirSync(named), [], 'nothing written into it either')
})

t.test('--to DIR itself is a usage error, nothing made: each file would be uploaded onto itself, and with --delete-local deleted', async (t) => {
  const dir = path.join(tempDir(t), 'self')
  const r = await cli(['write', dir, '--to', dir, '--delete-local'], '{"keep":1}\n')
  t.equal(r.code, 2)
  t.equal(r.stderr.split('\n')[0], `shoebox write: --to: is the directory the sealed files are in (${dir}): each would be uploaded onto itself, and then deleted with it; upload to another directory or a store`)
  t.notOk(fs.existsSync(dir), 'no directory made')
})
