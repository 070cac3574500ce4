/**
 * The HTTP side of the Kronos client: one keep-alive connection pool per
 * client, requests with an idle timeout and an abort signal, Kronos's error
 * rules (spec §8: a status other than 200, or `@success: false` with the
 * `@errors` collected from anywhere in the answer), and which failures are
 * worth another try (answer-kind.ts: no answer, a broken connection, 5xx,
 * 408, 429; never a 4xx or an answer that says it failed).
 *
 * A URL's user:password becomes a Basic Authorization header and never
 * appears in an error: errors name the URL as origin + path only.
 */
import http, { type Agent, type IncomingMessage } from 'node:http'
import type * as https from 'node:https'
import { createRequire } from 'node:module'
import { checkUrlUserinfo, ShoeboxError, type ShoeboxErrorCode } from '../errors.js'
import { parseEvent, type JsonValue } from './event-text.js'
import { answerDeadline } from './answer-deadline.js'
import { answerKind, MAX_FAILED_ANSWER_BYTES, redirectNote } from './answer-kind.js'
import { parseRetryAfter } from './retry-after.js'
import { unaskedEncoding } from './unasked-encoding.js'
import { timerMs } from '../units.js'

/** Where requests go and how: shared by every call of one client. */
export interface KronosTarget {
  /** The base URL without credentials, query or trailing '/'. */
  base: string
  /** The same for messages (identical; kept apart so nothing secret slips in later). */
  shown: string
  authorization: string | undefined
  agent: Agent
  /** Not `typeof http`: a default import in the declarations would need esModuleInterop in a consumer's project. */
  transport: typeof import('node:http') | typeof https
  timeoutMs: number
}

/** A Kronos request that failed: `status` when the server answered, `errors` its @errors. */
export class KronosError extends ShoeboxError {
  readonly status: number | undefined
  readonly errors: string[]
  /** Milliseconds from a Retry-After header (429/503), if any. */
  readonly retryAfterMs: number | undefined
  readonly response: JsonValue | undefined

  constructor (code: ShoeboxErrorCode, message: string, details: {
    status?: number, errors?: string[], retryAfterMs?: number, response?: JsonValue, cause?: unknown
  } = {}) {
    super(code, message, { cause: details.cause })
    this.name = 'KronosError'
    this.status = details.status
    this.errors = details.errors ?? []
    this.retryAfterMs = details.retryAfterMs
    this.response = details.response
  }
}

export function makeTarget (url: string | URL, options: { timeoutMs: number, maxSockets: number }): KronosTarget {
  let parsed: URL
  try {
    parsed = new URL(String(url))
  } catch {
    throw new ShoeboxError('SHOEBOX_BAD_URL', 'not a URL (expected http://host:port)')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ShoeboxError('SHOEBOX_BAD_URL', `unsupported URL scheme ${parsed.protocol} (expected http: or https:)`)
  }
  const base = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`
  checkUrlUserinfo(parsed, base)
  const authorization = parsed.username === '' && parsed.password === ''
    ? undefined
    : `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`
  // TLS is loaded only for an https URL: importing shoebox stays cheap.
  const transport = parsed.protocol === 'https:' ? createRequire(import.meta.url)('node:https') as typeof https : http
  const agent = new transport.Agent({ keepAlive: true, maxSockets: options.maxSockets })
  return { base, shown: base, authorization, agent, transport, timeoutMs: options.timeoutMs }
}

/** Sends one request; resolves with the response (any status), rejects when there is none. */
export function send (target: KronosTarget, method: 'GET' | 'POST', path: string, body: string | undefined,
  signal: AbortSignal | undefined): Promise<IncomingMessage> {
  const url = target.base + path
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json' }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(body)
    }
    if (target.authorization !== undefined) headers.authorization = target.authorization
    const req = target.transport.request(url, { method, headers, agent: target.agent, signal })
    req.setTimeout(timerMs(target.timeoutMs), () => {
      req.destroy(new KronosError('SHOEBOX_UNREACHABLE', `${method} ${target.shown}${path}: no answer for ${target.timeoutMs} ms`))
    })
    req.once('response', (res) => {
      const encoding = unaskedEncoding(res.headers)
      if (res.statusCode === 200 && encoding !== undefined) {
        res.destroy()
        reject(new KronosError('SHOEBOX_EVENTS_FAILED', `${method} ${target.shown}${path}: HTTP 200 with Content-Encoding ${encoding}, which was not asked for`, { status: 200 }))
        return
      }
      // The idle timeout keeps watching the body: a stalled stream is a broken one.
      res.setTimeout(timerMs(target.timeoutMs), () => {
        res.destroy(new KronosError('SHOEBOX_UNREACHABLE', `${method} ${target.shown}${path}: the answer stalled for ${target.timeoutMs} ms`))
      })
      resolve(res)
    })
    req.once('error', (err) => { reject(networkError(err, method, target.shown + path)) })
    req.end(body)
  })
}

export function networkError (err: unknown, method: string, shownUrl: string): ShoeboxError {
  if (err instanceof ShoeboxError) return err
  if ((err as Error | undefined)?.name === 'AbortError') return err as ShoeboxError
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const why = code === undefined ? (err as Error | undefined)?.message ?? String(err) : `${(err as Error).message}`
  return new KronosError('SHOEBOX_UNREACHABLE', `${method} ${shownUrl}: ${why}`, { cause: err })
}

const MAX_ANSWER_BYTES = 64 * 1024 * 1024

/**
 * The whole body as text (capped: a JSON answer is small), within
 * answerDeadline(). With `upTo`, a body past that many bytes is cut there
 * (a failed answer's: only its first words are wanted), not refused.
 */
export async function readText (res: IncomingMessage, shownUrl: string, timeoutMs: number, upTo?: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  const cancel = answerDeadline(timeoutMs, (ms) => { res.destroy(new KronosError('SHOEBOX_UNREACHABLE', `${shownUrl}: the answer's body took over ${ms} ms`)) })
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length
      if (upTo !== undefined && size >= upTo) {
        chunks.push(chunk as Buffer)
        res.destroy()
        break
      }
      if (size > MAX_ANSWER_BYTES) {
        res.destroy()
        throw new KronosError('SHOEBOX_EVENTS_FAILED', `${shownUrl}: answer larger than ${MAX_ANSWER_BYTES} bytes`)
      }
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    throw networkError(err, 'reading', shownUrl)
  } finally {
    cancel()
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Every string in every @errors list, anywhere in the answer (as pykronos collects them). */
export function collectErrors (value: JsonValue | undefined, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) collectErrors(v, out)
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '@errors' && Array.isArray(v)) {
        for (const e of v) out.push(typeof e === 'string' ? e : JSON.stringify(e))
      } else {
        collectErrors(v, out)
      }
    }
  }
  return out
}

/** The longest Retry-After a call waits: a get or a JSON call should not sit still for minutes. */
const MAX_RETRY_AFTER_MS = 60_000

/** The error for an answer whose status is not 200 (its body read for @errors). */
export async function statusError (res: IncomingMessage, method: string, shownUrl: string, timeoutMs: number): Promise<KronosError> {
  const status = res.statusCode ?? 0
  let text = ''
  try {
    text = (await readText(res, shownUrl, timeoutMs, MAX_FAILED_ANSWER_BYTES)).slice(0, MAX_FAILED_ANSWER_BYTES)
  } catch {
    // The status says enough.
  }
  let response: JsonValue | undefined
  try {
    response = parseEvent(text)
  } catch {
    response = undefined
  }
  const errors = collectErrors(response)
  const detail = errors.length > 0 ? errors.join('; ') : text.trim().slice(0, 200)
  const code: ShoeboxErrorCode = status === 429 || status === 503 ? 'SHOEBOX_THROTTLED' : 'SHOEBOX_EVENTS_FAILED'
  return new KronosError(code, `${method} ${shownUrl}: HTTP ${status}${detail === '' ? '' : `: ${detail}`}${redirectNote(status, res.headers.location, shownUrl)}`,
    { status, errors, retryAfterMs: parseRetryAfter(res.headers['retry-after'], MAX_RETRY_AFTER_MS), response })
}

/** A JSON answer: status 200 and `@success` not false, else a KronosError. */
export async function requestJson (target: KronosTarget, method: 'GET' | 'POST', path: string, body: string | undefined,
  signal: AbortSignal | undefined): Promise<{ [key: string]: JsonValue }> {
  const shown = target.shown + path
  const res = await send(target, method, path, body, signal)
  if (res.statusCode !== 200) throw await statusError(res, method, shown, target.timeoutMs)
  const text = await readText(res, shown, target.timeoutMs)
  let answer: JsonValue
  try {
    answer = parseEvent(text)
  } catch (err) {
    throw new KronosError('SHOEBOX_EVENTS_FAILED', `${method} ${shown}: the answer is not JSON: ${(err as Error).message}`, { status: 200 })
  }
  if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) {
    throw new KronosError('SHOEBOX_EVENTS_FAILED', `${method} ${shown}: the answer is not a JSON object`, { status: 200 })
  }
  if (answer['@success'] === false) {
    const errors = collectErrors(answer)
    throw new KronosError('SHOEBOX_EVENTS_FAILED', `${method} ${shown}: Encountered errors: ${errors.join('; ')}`,
      { status: 200, errors, response: answer })
  }
  return answer
}

/** Worth another try (answer-kind.ts): no answer / a broken connection, 5xx, 408 or 429, unless the server said why in words. */
export function isRetryable (err: unknown): boolean {
  if (!(err instanceof KronosError)) return false
  if (err.status === undefined) return err.code === 'SHOEBOX_UNREACHABLE'
  return answerKind(err.status, err.errors) === 'transient'
}
