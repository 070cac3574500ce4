/**
 * Hostile input against the streaming zstd decoder (native/zstd_system.c's
 * zstdStream*, through lib/compress/zstd-stream.ts): the seeded mutations
 * of zstd-mutations.ts (those zstd-fuzz.test.ts gives the frame-at-a-time
 * path), fed in random chunks (1 byte to 64 KiB), to readers fast and slow
 * (so a 1 MiB piece waits for _read), some destroyed at a random point.
 * Each case must settle within CASE_TIMEOUT; read whole, it gives what
 * `zstd -dc` gives; failing, a 'bad-compression' error at a frame inside
 * the input, after the content of the frames before that frame (decoded
 * alone by `zstd -dc`) and nothing `zstd -dc` contradicts (it reads a few
 * the stage rightly refuses: whyDcReads()); no piece over
 * 1 MiB; every decoder freed. Then many thousands of small cases with the
 * process's RSS watched. SHOEBOX_ZSTD_FUZZ_CASES=N runs N cases of each
 * (longer, outside the suite). AddressSanitizer: bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process'
import { Writable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { WINDOW_LOG_MAX, ZstdStreamStage } from '../../lib/compress/zstd-stream.js'
import type { ZstdStreamDecoder } from '../../lib/compress/zstd-loader.js'
import { CorruptArchiveError } from '../../lib/errors.js'
import { backends, oversized, zstdMutations } from './zstd-mutations.js'

const MiB = 1024 * 1024
const CASES = Number(process.env.SHOEBOX_ZSTD_FUZZ_CASES ?? 0) || 120
const SMALL_CASES = Number(process.env.SHOEBOX_ZSTD_FUZZ_CASES ?? 0) * 10 || 2000
/** A case that has not settled by then hangs. */
const CASE_TIMEOUT = 20_000

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const { libzstd } = await backends()
if (libzstd.streamDecoder === undefined) throw new Error('these tests need the native addon built with its streaming decoder (node scripts/build-native.js)')
const streamDecoder = libzstd.streamDecoder
const { random, pick, seeds, mutate } = zstdMutations(23)

/** What `zstd -dc` writes for `input`, and whether it succeeded (it writes the content before the damage it meets). */
function zstdDc (input: Buffer): { content: Buffer, ok: boolean } {
  const run = spawnSync('zstd', ['-dc', '-q'], { input, maxBuffer: 256 * MiB })
  if (run.error !== undefined) throw run.error
  return { content: run.stdout, ok: run.status === 0 }
}

/** Whether one of `a` and `b` starts with the other. */
function prefixed (a: Buffer, b: Buffer): boolean {
  const n = Math.min(a.length, b.length)
  return a.subarray(0, n).equals(b.subarray(0, n))
}

/** `input` in chunks of one random size, or each of its own (1 byte to 64 KiB); at most ~2000 of them, so a large input is not fed a byte at a time. */
function randomChunks (input: Buffer): Buffer[] {
  const fixed = pick([0, 1, 2, 7, 100, 4096, 65_536])
  const least = Math.ceil(input.length / 2000)
  const chunks: Buffer[] = []
  for (let at = 0; at < input.length;) {
    const size = Math.max(least, fixed === 0 ? 1 + random() % 65_536 : fixed)
    chunks.push(input.subarray(at, at + size))
    at += size
  }
  return chunks
}

/** Decoders opened and freed, and jobs running, over all the cases. */
const count = { opened: 0, freed: 0, running: 0 }
function countedDecoder (): ZstdStreamDecoder {
  const decoder = streamDecoder(WINDOW_LOG_MAX)
  count.opened++
  let freed = false
  return {
    decode: async (input) => {
      count.running++
      try { return await decoder.decode(input) } finally { count.running-- }
    },
    free: () => { if (!freed) count.freed++; freed = true; decoder.free() }
  }
}

interface Run { content: Buffer, largest: number, error: unknown, destroyed: boolean }

/**
 * `chunks` written to a new stage (each write waiting as a writer should);
 * its output read by a reader that is, by `slow`, now and then a few
 * turns late; destroyed at the `destroyAt`th chunk written or piece read
 * when given (0: while its first job is on the pool).
 */
async function run (chunks: Buffer[], slow: number, destroyAt: number | null): Promise<Run> {
  const stage = new ZstdStreamStage(countedDecoder(), 'in.zst')
  const pieces: Buffer[] = []
  let events = 0
  let destroyed = false
  const step = (): void => {
    if (destroyAt !== null && events++ === destroyAt && !stage.destroyed) {
      destroyed = true
      stage.destroy()
    }
  }
  const reader = new Writable({
    highWaterMark: 1,
    write (piece: Buffer, _e, cb) {
      pieces.push(piece)
      step()
      if (slow > 0 && random() % slow === 0) setTimeout(cb, random() % 3)
      else cb()
    }
  })
  stage.pipe(reader)
  const settled = new Promise<unknown>((resolve) => {
    stage.once('error', resolve)
    stage.once('close', () => { resolve(null) })
  })
  // Written as pipeline() would: the next chunk when the stage takes more.
  const write = async (): Promise<void> => {
    for (const chunk of chunks) {
      if (stage.destroyed) return
      const more = stage.write(chunk)
      step()
      if (!more && !stage.destroyed) await new Promise((resolve) => { stage.once('drain', resolve); stage.once('close', resolve) })
    }
    if (!stage.destroyed) stage.end()
  }
  void write()
  const error = await settled
  if (error === null && !destroyed) await new Promise((resolve) => { if (reader.writableFinished) resolve(null); else reader.once('finish', resolve) })
  return { content: Buffer.concat(pieces), largest: Math.max(0, ...pieces.map((p) => p.length)), error, destroyed }
}

async function withTimeout<T> (promise: Promise<T>): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => { resolve('hung') }, CASE_TIMEOUT) })
  try {
    return await Promise.race([promise, hung])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Why `zstd -dc` may rightly read what the stage refuses, or null. The
 * command decodes a frame in one pass where its 128 KiB of room hold the
 * Frame_Content_Size and its read holds the frame (the stage streams every
 * frame: native/zstd_system.c), and streams the others; libzstd 1.5.4
 * checks the size in one pass only, and regenerates a block over the block
 * maximum there (the stage checks the one, refuses the other, as the
 * archive readers' walker does), and one pass needs no window.
 */
function whyDcReads (input: Buffer, error: CorruptArchiveError): string | null {
  if (/Frame_Content_Size its header gives/.test(error.message)) return 'a content size zstd -dc streams unchecked'
  if (oversized(input.subarray(error.offset))) return 'a block over the maximum, which zstd -dc regenerates in one pass'
  if (/needs a window of .*, over the 128 MiB shoebox decodes/.test(error.message)) return 'a window one pass does not need'
  return null
}

/** What is wrong with `got` for `input` (null: nothing). */
function judge (input: Buffer, got: Run): string | null {
  if (got.largest > MiB) return `a piece of ${got.largest} bytes`
  const dc = zstdDc(input)
  if (got.destroyed) return prefixed(got.content, dc.content) ? null : 'destroyed: other content than zstd -dc'
  if (got.error === null) {
    if (got.content.equals(dc.content) && (dc.ok || input.length === 0)) return null // zstd -dc refuses an empty input; no frames is no content
    return `read whole (${got.content.length} bytes), but zstd -dc ${dc.ok ? `gives ${dc.content.length} other bytes` : 'fails'}`
  }
  const error = got.error
  if (!(error instanceof CorruptArchiveError) || error.reason !== 'bad-compression' || error.code !== 'SHOEBOX_BAD_COMPRESSION' || error.file !== 'in.zst') return `failed with ${String(error)}`
  if (!Number.isInteger(error.offset) || error.offset < 0 || error.offset >= input.length) return `an offset of ${error.offset}, not in ${input.length} bytes: ${error.message}`
  if (dc.ok && whyDcReads(input, error) === null) return `failed (${error.message}), but zstd -dc reads it`
  if (!prefixed(got.content, dc.content)) return `failed after ${got.content.length} bytes that zstd -dc's ${dc.content.length} contradict`
  // The frames before the failing one, decoded alone: all given before it.
  const before = zstdDc(input.subarray(0, error.offset))
  if (!before.ok && error.offset > 0) return `the frames before offset ${error.offset} do not read alone`
  if (!got.content.subarray(0, before.content.length).equals(before.content)) return `failed after ${got.content.length} bytes, not the ${before.content.length} of the frames before offset ${error.offset}`
  return null
}

t.test(`${CASES} seeded hostile inputs in random chunks to fast, slow and destroying readers: each settles as zstd -dc says`, async (t) => {
  const all = await seeds(t)
  const wrong: string[] = []
  const outcomes: Record<string, number> = {}
  for (let c = 0; c < CASES; c++) {
    const input = c < all.length ? all[c] : mutate(pick(all), all)
    const chunks = randomChunks(input)
    const slow = pick([0, 0, 1, 4, 50])
    const destroyAt = random() % 8 === 0 ? random() % 6 : null
    const describe = `case ${c} (${input.subarray(0, 24).toString('hex')}..., ${input.length} bytes in ${chunks.length} chunks, slow ${slow}, destroyed at ${String(destroyAt)})`
    const got = await withTimeout(run(chunks, slow, destroyAt))
    if (got === 'hung') {
      wrong.push(`${describe}: not settled in ${CASE_TIMEOUT} ms`)
      break
    }
    const outcome = got.destroyed ? 'destroyed' : got.error === null ? 'read' : 'failed'
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    const problem = judge(input, got)
    if (problem !== null) wrong.push(`${describe}: ${problem}`)
  }
  t.same(wrong, [], 'every case as zstd -dc says')
  t.ok((outcomes.read ?? 0) > 30 && (outcomes.failed ?? 0) > CASES / 4 && (outcomes.destroyed ?? 0) > CASES / 30, `the cases reach each outcome: ${JSON.stringify(outcomes)}`)
  while (count.running > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(count.freed, count.opened, `every decoder freed (${count.opened})`)
})

t.test(`${SMALL_CASES} small hostile inputs: settled, freed, and the process's memory bounded`, async (t) => {
  const all = (await seeds(t)).filter((seed) => seed.length < 16 * 1024)
  const opened = count.opened
  // After a warm-up, every 250 cases: the jobs settled and garbage collected, so what is
  // measured is what is kept, not garbage awaiting a collection (that varied by 60 MiB under load).
  const samples: Array<{ c: number, rss: number }> = []
  for (let c = 0; c < SMALL_CASES; c++) {
    const input = mutate(pick(all), all.filter((seed) => seed.length < 4096))
    const got = await withTimeout(run(randomChunks(input), 0, random() % 16 === 0 ? 0 : null))
    if (got === 'hung') {
      t.fail(`small case ${c} (${input.toString('hex').slice(0, 200)}): not settled in ${CASE_TIMEOUT} ms`)
      return
    }
    if (got.largest > MiB) t.fail(`small case ${c}: a piece of ${got.largest} bytes`)
    if (c >= 499 && (c + 1) % 250 === 0) {
      while (count.running > 0) await new Promise((resolve) => setTimeout(resolve, 5))
      gc()
      samples.push({ c, rss: process.memoryUsage().rss })
    }
  }
  if (samples.length >= 2) { // SHOEBOX_ZSTD_FUZZ_CASES under 50 runs too few cases to sample
    const [first, last] = [samples[0], samples[samples.length - 1]]
    const told = samples.map((s) => `${s.c + 1}: ${(s.rss / MiB).toFixed(0)} MiB`).join(', ')
    // A decoder context kept per case (its object held, never finalized) adds ~90 MiB by the last sample.
    t.ok(last.rss - first.rss < 48 * MiB, `RSS after each 250 cases: ${told}`)
  }
  while (count.running > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(count.opened - opened, SMALL_CASES)
  t.equal(count.freed, count.opened, 'every decoder freed')
})
