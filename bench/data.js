/**
 * Deterministic synthetic data for the benchmarks (see
 * ../../shared/PERFORMANCE-NOTES.md, "Data"): JSON events with UUIDv7-style
 * ids, timestamps, nested user/http/cart/error objects and random text.
 *
 *   makeRecords(n)          n records { metadata, payload: Buffer } whose
 *                           payloads are 400–600 B (average ~500 B) and whose
 *                           metadata has 4 keys: event, request_id, generated, uuid
 *   ndjsonBuffer(bytes)     an in-memory NDJSON buffer of about `bytes`
 *   ensureNdjsonFile(bytes) bench/.data/events-<bytes>.ndjson, 370–1160 B
 *                           lines (average ~584 B); reused when it already
 *                           exists with the recorded size
 *
 * Everything comes from a seeded PRNG: the same call gives the same bytes.
 * Run directly (`node bench/data.js [bytes]`) to create the NDJSON file.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
export const DATA_DIR = path.join(HERE, '.data')
export const DEFAULT_SEED = 0x5eed
export const DEFAULT_FILE_BYTES = 200_000_000
/** Bump when the generator changes, so cached files are rebuilt. */
const GENERATOR_VERSION = 1

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** sfc32: small, fast, good enough, and fully deterministic. */
export class Prng {
  #a; #b; #c; #d
  constructor (seed = DEFAULT_SEED) {
    this.#a = 0x9e3779b9; this.#b = 0x243f6a88; this.#c = 0xb7e15162; this.#d = seed >>> 0
    for (let i = 0; i < 16; i++) this.u32()
  }

  u32 () {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return t >>> 0
  }

  /** [0, 1) */
  float () { return this.u32() / 4294967296 }
  /** integer in [lo, hi] */
  int (lo, hi) { return lo + Math.floor(this.float() * (hi - lo + 1)) }
  pick (list) { return list[Math.floor(this.float() * list.length)] }
  chance (p) { return this.float() < p }
  /** n lowercase hex digits (a table lookup: Number#toString(16) is slow). */
  hex (n) {
    let s = ''
    for (let i = 0; i < n; i += 8) {
      const x = this.u32()
      s += HEX[x & 0xff] + HEX[(x >>> 8) & 0xff] + HEX[(x >>> 16) & 0xff] + HEX[x >>> 24]
    }
    return s.length === n ? s : s.slice(0, n)
  }
}

const WORDS = ('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et ' +
  'dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo ' +
  'consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint ' +
  'occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum shipment order ' +
  'payment retry timeout cache miss warehouse latency checkout session token refresh upstream gateway queue').split(' ')
const EVENT_TYPES = ['page.view', 'cart.add', 'cart.remove', 'checkout.started', 'checkout.completed', 'payment.failed',
  'user.login', 'user.logout', 'search.query', 'api.error']
const FIRST = ['ada', 'grace', 'linus', 'barbara', 'ken', 'margaret', 'dennis', 'frances', 'alan', 'edsger', 'radia', 'guido']
const LAST = ['lovelace', 'hopper', 'torvalds', 'liskov', 'thompson', 'hamilton', 'ritchie', 'allen', 'turing', 'dijkstra']
const DOMAINS = ['example.com', 'example.org', 'mail.test', 'corp.invalid']
const PLANS = ['free', 'pro', 'team', 'enterprise']
const COUNTRIES = ['DE', 'FR', 'US', 'BR', 'JP', 'IN', 'NG', 'SE', 'CA', 'AU']
const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE']
const PATHS = ['/api/v1/cart', '/api/v1/orders', '/api/v1/search', '/api/v1/users/me', '/checkout', '/api/v2/payments']
const STATUS = [200, 200, 200, 200, 201, 204, 301, 400, 404, 500, 503]
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0', 'curl/8.5.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15', 'okhttp/4.12.0']
const ERRORS = ['E_TIMEOUT', 'E_UPSTREAM', 'E_CARD_DECLINED', 'E_RATE_LIMIT', 'E_VALIDATION']

function text (rng, n) {
  let s = ''
  while (s.length < n) s += (s.length === 0 ? '' : ' ') + rng.pick(WORDS)
  return s.slice(0, n)
}

/** A UUIDv7-shaped id: 48-bit ms timestamp, version 7, variant 10, random rest. */
function uuidv7 (rng, ms) {
  const t = HEX[Math.floor(ms / 2 ** 40) & 0xff] + HEX[Math.floor(ms / 2 ** 32) & 0xff] +
    HEX[(ms >>> 24) & 0xff] + HEX[(ms >>> 16) & 0xff] + HEX[(ms >>> 8) & 0xff] + HEX[ms & 0xff]
  const r = rng.hex(20)
  const variant = (8 + (parseInt(r[3], 16) & 3)).toString(16)
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(0, 3)}-${variant}${r.slice(4, 7)}-${r.slice(8, 20)}`
}

/**
 * A stateful event source. `next(target)` returns { type, ts, id, json }:
 * one event serialised as JSON, whenever the fixed part allows exactly
 * `target` bytes long (all ASCII, so bytes === characters). The JSON is
 * assembled from template strings (every value is escape-free ASCII, and
 * String(number) is JSON's number syntax): JSON.stringify costs ~5 us per
 * event on the reference machine, too slow for 200 MB of data.
 */
export class EventSource {
  #rng
  #ms = Date.UTC(2024, 0, 15, 8, 0, 0)
  constructor (seed = DEFAULT_SEED) {
    this.#rng = new Prng(seed)
  }

  get rng () { return this.#rng }

  next (target) {
    const rng = this.#rng
    this.#ms += rng.int(0, 40)
    const type = rng.pick(EVENT_TYPES)
    const id = uuidv7(rng, this.#ms)
    const ts = new Date(this.#ms).toISOString()
    const first = rng.pick(FIRST)
    const last = rng.pick(LAST)
    const status = rng.pick(STATUS)
    let json = `{"id":"${id}","type":"${type}","ts":"${ts}","source":"web-${String(rng.int(1, 24)).padStart(2, '0')}",` +
      `"user":{"id":"u_${rng.hex(10)}","name":"${first} ${last}","email":"${first}.${last}${rng.int(1, 999)}@${rng.pick(DOMAINS)}",` +
      `"plan":"${rng.pick(PLANS)}","country":"${rng.pick(COUNTRIES)}"},` +
      `"http":{"method":"${rng.pick(METHODS)}","path":"${rng.pick(PATHS)}/${rng.hex(8)}","status":${status},` +
      `"duration_ms":${Math.round(rng.float() * 250000) / 100},"user_agent":"${rng.pick(AGENTS)}"}`
    if (type.startsWith('cart') || type.startsWith('checkout')) {
      const n = rng.int(1, 3)
      let total = 0
      let items = ''
      for (let i = 0; i < n; i++) {
        const price = rng.int(199, 19999) / 100
        const qty = rng.int(1, 4)
        total += price * qty
        items += `${i === 0 ? '' : ','}{"sku":"SKU-${rng.hex(6).toUpperCase()}","qty":${qty},"price":${price}}`
      }
      const cart = `,"cart":{"items":[${items}],"total":${Math.round(total * 100) / 100},"currency":"EUR"}`
      if (json.length + cart.length + 14 <= target) json += cart
    }
    if (status >= 500 || type === 'payment.failed' || type === 'api.error') {
      const error = `,"error":{"code":"${rng.pick(ERRORS)}","retryable":${rng.chance(0.5)},"detail":"${text(rng, rng.int(10, 40))}"}`
      if (json.length + error.length + 14 <= target) json += error
    }
    // ,"message":"..."} costs 14 bytes plus the text.
    json += `,"message":"${text(rng, Math.max(0, target - json.length - 14))}"}`
    return { type, ts, id, json }
  }
}

/**
 * n records for the codec benchmarks: payload 400–600 B (uniform), 4
 * metadata keys. Payloads are Buffers (the records an archiver ships).
 */
export function makeRecords (n, seed = DEFAULT_SEED) {
  const source = new EventSource(seed)
  const rng = source.rng
  const records = new Array(n)
  for (let i = 0; i < n; i++) {
    const { type, ts, id, json } = source.next(rng.int(400, 600))
    // Through JSON, so the strings are flat, as a parser or decoder hands them
    // out (strings built by concatenation are V8 cons strings, which would
    // make the first encoder to touch them pay for flattening).
    const metadata = JSON.parse(JSON.stringify({ event: type, request_id: `req_${rng.hex(16)}`, generated: ts, uuid: id }))
    records[i] = { metadata, payload: Buffer.from(json) }
  }
  return records
}

/** Line lengths 370–1160 B, skewed towards short lines, average ~584 B. */
function lineTarget (rng) {
  return 370 + Math.round(790 * Math.pow(rng.float(), 2.69))
}

/** Generate NDJSON lines, calling emit(buffer, lines) with ~4 MB pieces, until `bytes` is reached. */
function generateNdjson (bytes, seed, emit) {
  const source = new EventSource(seed)
  const rng = source.rng
  let written = 0
  let lines = 0
  while (written < bytes) {
    const parts = []
    let size = 0
    while (size < 4_000_000 && written + size < bytes) {
      const line = source.next(lineTarget(rng)).json + '\n'
      parts.push(line)
      size += line.length
    }
    lines += parts.length
    written += size
    emit(Buffer.from(parts.join('')), parts.length)
  }
  return { bytes: written, lines }
}

/** An NDJSON buffer of at least `bytes` (whole lines). */
export function ndjsonBuffer (bytes, seed = DEFAULT_SEED) {
  const pieces = []
  const { lines } = generateNdjson(bytes, seed, (buf) => { pieces.push(buf) })
  const buf = Buffer.concat(pieces)
  return { buf, lines }
}

/**
 * bench/.data/events-<bytes>.ndjson (at least `bytes`, whole lines), reused
 * when its sidecar .json says it was made by this generator with this seed
 * and the file has the recorded size. Returns { path, bytes, lines, reused }.
 */
export function ensureNdjsonFile (bytes = DEFAULT_FILE_BYTES, seed = DEFAULT_SEED) {
  fs.mkdirSync(DATA_DIR, { recursive: true })
  const file = path.join(DATA_DIR, `events-${bytes}-${seed.toString(16)}.ndjson`)
  const sidecar = file + '.json'
  try {
    const info = JSON.parse(fs.readFileSync(sidecar, 'utf8'))
    if (info.version === GENERATOR_VERSION && info.seed === seed && fs.statSync(file).size === info.bytes) {
      return { path: file, bytes: info.bytes, lines: info.lines, reused: true }
    }
  } catch {
    // no usable cached file: make it
  }
  const tmp = `${file}.${process.pid}.tmp`
  const fd = fs.openSync(tmp, 'w')
  let result
  try {
    result = generateNdjson(bytes, seed, (buf) => {
      for (let off = 0; off < buf.length;) off += fs.writeSync(fd, buf, off)
    })
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  fs.writeFileSync(sidecar, JSON.stringify({ version: GENERATOR_VERSION, seed, ...result }) + '\n')
  return { path: file, ...result, reused: false }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bytes = Number(process.argv[2] ?? DEFAULT_FILE_BYTES)
  const t0 = performance.now()
  const info = ensureNdjsonFile(bytes)
  const s = ((performance.now() - t0) / 1000).toFixed(1)
  console.log(`${info.reused ? 'reused' : 'wrote'} ${info.path}: ${info.bytes} bytes, ${info.lines} lines, ` +
    `${(info.bytes / info.lines).toFixed(0)} B/line (${s} s)`)
}
