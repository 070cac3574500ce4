/** Shared benchmark plumbing: interleaved timing, medians, stream driving, Markdown output. */

export const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 8))
export const WARMUP = 1

export function median (values) {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * Before each timed run: collect the previous run's garbage (with
 * --expose-gc), then pause briefly so background GC threads (concurrent
 * sweeping, freeing external buffers) finish before the clock starts.
 */
export async function settle (ms = Number(process.env.BENCH_SETTLE_MS ?? 200)) {
  globalThis.gc?.()
  await new Promise((resolve) => setTimeout(resolve, ms))
}

const log = (msg) => { process.stderr.write(msg + '\n') }
export { log }

/**
 * Time candidates round-robin: WARMUP rounds, then `runs` timed rounds, each
 * round running every candidate once, so that the machine's noise (see
 * PERFORMANCE-NOTES.md) hits shoebox and its peers alike. The order rotates
 * by one every round: on this machine the first candidate of a round was
 * seen to run up to 1.5x slower than the same code later in the round, so a
 * fixed order would bias the ratios. A candidate is
 * { name, run: async () => count, prepare?: async () => void } and must
 * return the records it produced or consumed; a wrong count fails the
 * benchmark. `prepare` (e.g. emptying an output directory) runs untimed
 * before each run, ahead of the settle pause. Returns
 * name -> { seconds: [...], median, best }.
 */
export async function timeRoundRobin (candidates, { expected, runs = RUNS, warmup = WARMUP, label = '' } = {}) {
  const out = new Map(candidates.map((c) => [c.name, { seconds: [], median: NaN }]))
  for (let round = 0; round < warmup + runs; round++) {
    const order = candidates.map((_, i) => candidates[(i + round) % candidates.length])
    for (const c of order) {
      await c.prepare?.()
      await settle()
      const t0 = performance.now()
      const count = await c.run()
      const s = (performance.now() - t0) / 1000
      if (expected !== undefined && count !== expected) {
        throw new Error(`${c.name}: produced ${count} records, expected ${expected}`)
      }
      if (round >= warmup) out.get(c.name).seconds.push(s)
    }
    log(`${label}round ${round + 1}/${warmup + runs}${round < warmup ? ' (warm-up)' : ''}: ` +
      order.map((c) => {
        const r = out.get(c.name).seconds
        return `${c.name} ${round < warmup ? '-' : r[r.length - 1].toFixed(3) + 's'}`
      }).join(', '))
  }
  for (const r of out.values()) {
    r.median = median(r.seconds)
    r.best = Math.min(...r.seconds)
  }
  return out
}

/**
 * Write `items` into a Duplex/Transform with backpressure, end it, and
 * resolve when its readable side ends. Attach the 'data' listener first.
 */
export function drive (stream, items) {
  return new Promise((resolve, reject) => {
    stream.once('error', reject)
    stream.once('end', resolve)
    let i = 0
    const pump = () => {
      while (i < items.length) {
        if (!stream.write(items[i++])) {
          stream.once('drain', pump)
          return
        }
      }
      stream.end()
    }
    pump()
  })
}

/** Split a buffer into views of `size` bytes. */
export function chunks (buf, size) {
  const out = []
  for (let off = 0; off < buf.length; off += size) out.push(buf.subarray(off, Math.min(off + size, buf.length)))
  return out
}

const fmtInt = (n) => Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–'
const fmtMB = (n) => Number.isFinite(n) ? n.toFixed(1) : '–'
const fmtRatio = (n) => Number.isFinite(n) ? n.toFixed(2) + 'x' : '–'

export const TABLE_HEADER = ['scenario', 'shoebox records/s', 'shoebox MB/s', 'peer', 'peer records/s', 'peer MB/s', 'ratio']

/**
 * A row: { scenario, shoeboxRps, shoeboxMBps, peer, peerRps, peerMBps, ratio }.
 * The ratio is shoebox/peer on records/s when both have it, else on MB/s.
 */
export function markdownTable (rows) {
  const lines = [
    '| ' + TABLE_HEADER.join(' | ') + ' |',
    '|' + TABLE_HEADER.map((_, i) => i === 0 || i === 3 ? '---' : '---:').join('|') + '|'
  ]
  for (const r of rows) {
    lines.push('| ' + [r.scenario, fmtInt(r.shoeboxRps), fmtMB(r.shoeboxMBps), r.peer, fmtInt(r.peerRps),
      fmtMB(r.peerMBps), fmtRatio(r.ratio)].join(' | ') + ' |')
  }
  return lines.join('\n')
}

/**
 * Build a table row from two timings over the same work: `shoebox` and
 * `peer` are { median, best } in seconds. The table uses the medians;
 * bestRatio (fastest run against fastest run) is kept as a noise check.
 */
export function row (scenario, peer, { records, bytes, shoebox, peer: peerTime }) {
  const shoeboxSeconds = shoebox.median
  const peerSeconds = peerTime.median
  const shoeboxRps = records / shoeboxSeconds
  const peerRps = records / peerSeconds
  return {
    scenario,
    shoeboxRps,
    shoeboxMBps: bytes / 1e6 / shoeboxSeconds,
    peer,
    peerRps,
    peerMBps: bytes / 1e6 / peerSeconds,
    ratio: shoeboxRps / peerRps,
    bestRatio: peerTime.best / shoebox.best
  }
}
