/**
 * Errors from a store, in words a user can act on: which store, which
 * operation, which key, and what kind of failure (a missing bucket, refused
 * credentials, an unreachable endpoint, a throttling server...). The SDK's
 * own error is summarised, never attached: its request and response carry
 * signed headers, and a credential must not reach a log by way of a cause.
 */
import { ShoeboxError, type ShoeboxErrorCode } from '../errors.js'
import type { FailureKind } from '../transfer/failure-kind.js'

export type { FailureKind }

const codeForKind: Record<FailureKind, ShoeboxErrorCode> = {
  'not-found': 'SHOEBOX_NOT_FOUND',
  'no-bucket': 'SHOEBOX_NO_BUCKET',
  denied: 'SHOEBOX_DENIED',
  unreachable: 'SHOEBOX_UNREACHABLE',
  throttled: 'SHOEBOX_THROTTLED',
  server: 'SHOEBOX_STORE_FAILED',
  network: 'SHOEBOX_STORE_FAILED',
  verify: 'SHOEBOX_VERIFY_FAILED',
  other: 'SHOEBOX_STORE_FAILED'
}

export class StoreError extends ShoeboxError {
  /** The store's URL, without credentials. */
  readonly store: string
  readonly operation: string
  readonly key: string | undefined
  readonly kind: FailureKind
  /** HTTP status, when a server answered. */
  readonly status: number | undefined

  constructor (kind: FailureKind, store: string, operation: string, key: string | undefined, detail: string, status?: number) {
    const what = key === undefined ? operation : `${operation} ${key}`
    super(codeForKind[kind], `${store}: ${what}: ${detail}`)
    this.name = 'StoreError'
    this.store = store
    this.operation = operation
    this.key = key
    this.kind = kind
    this.status = status
  }
}

interface ErrorLike {
  name?: string
  code?: string
  message?: string
  Code?: string
  $metadata?: { httpStatusCode?: number }
  $response?: { statusCode?: number }
}

const DENIED = new Set([
  'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken',
  'TokenRefreshRequired', 'CredentialsProviderError', 'InvalidClientTokenId', 'AllAccessDisabled'
])
const THROTTLED = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequests',
  'TooManyRequestsException', 'RequestThrottled', 'ServiceUnavailable'
])
const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'TimeoutError'
])

/**
 * OpenSSL's words for a server that answered the TLS hello with something else: an https:// endpoint that
 * speaks plain http (a typo of the scheme). The line quoted OpenSSL's source path and error stack instead.
 */
function notTls (err: unknown): boolean {
  const e = (err ?? {}) as ErrorLike
  return e.code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(e.message ?? '')
}
const NETWORK = new Set([
  'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'RequestTimeout'
])

/**
 * Marks an error whose request a server throttled on an earlier attempt
 * (s3-client.ts notes it): when retries run out on a broken connection or
 * a server error after 503 SlowDown answers, the throttling is what the user
 * can act on, not the last attempt's reset (a kept-alive connection the
 * server closed while the client waited out its backoff).
 */
const THROTTLED_BEFORE = Symbol('shoebox.throttledBefore')

/** Note that an earlier attempt of the request that failed with `err` was throttled. */
export function noteThrottledBefore (err: unknown): void {
  if (typeof err === 'object' && err !== null) (err as Record<symbol, unknown>)[THROTTLED_BEFORE] = true
}

function throttledBefore (err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[THROTTLED_BEFORE] === true
}

export function statusOf (err: unknown): number | undefined {
  const e = err as ErrorLike
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode
}

/** Sort any error from an SDK call, a socket or the file system into a kind. */
export function classify (err: unknown): FailureKind {
  const kind = classifyAttempt(err)
  // After throttled attempts, only an answer that says more (a refusal, a missing bucket...) outranks the throttling.
  return throttledBefore(err) && (kind === 'network' || kind === 'unreachable' || kind === 'server' || kind === 'other') ? 'throttled' : kind
}

/** The kind of one attempt's failure, by the error itself. */
export function classifyAttempt (err: unknown): FailureKind {
  if (err instanceof StoreError) return err.kind
  const e = (err ?? {}) as ErrorLike
  const name = e.Code ?? e.name ?? ''
  const code = e.code ?? ''
  const status = statusOf(err)
  if (name === 'NoSuchBucket') return 'no-bucket'
  if (name === 'NoSuchKey' || name === 'NotFound' || code === 'ENOENT') return 'not-found'
  if (DENIED.has(name) || status === 403 || code === 'EACCES' || code === 'EPERM') return 'denied'
  if (THROTTLED.has(name) || status === 429 || status === 503) return 'throttled'
  // The socket's code first: the SDK renames a reset connection (ECONNRESET, EPIPE) 'TimeoutError'.
  // (Sometimes only its message keeps the code: 'TimeoutError: read ECONNRESET'. Node's and the SDK's words,
  // with no field for it: matched, as the only way to tell a dropped connection from a refused request.)
  if (NETWORK.has(code) || /ECONNRESET|EPIPE|socket hang up|premature close|aborted/i.test(e.message ?? '')) return 'network'
  if (UNREACHABLE.has(name) || UNREACHABLE.has(code) || notTls(err)) return 'unreachable'
  if (NETWORK.has(name)) return 'network'
  if (status !== undefined && status >= 500) return 'server'
  return 'other'
}

/** Replace every secret that might have been echoed into a message. */
export function redact (text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('***')
  }
  return out
}

/** What the SDK appends to a deserialization failure. */
const SDK_RAW_RESPONSE_HINT = /\s*Deserialization error: to see the raw response, inspect the hidden field \{error\}\.\$response on this object\.?/

/** Turn whatever an operation threw into a StoreError naming the store, the operation and the key. */
export function storeError (
  err: unknown, store: string, operation: string, key: string | undefined, secrets: readonly string[] = []
): StoreError {
  if (err instanceof StoreError) return err
  const kind = classify(err)
  const e = (err ?? {}) as ErrorLike
  const name = e.Code ?? e.name ?? e.code ?? 'Error'
  const status = statusOf(err)
  let detail: string
  switch (kind) {
    case 'no-bucket': detail = 'the bucket does not exist'; break
    case 'not-found': detail = 'no such object'; break
    case 'denied': detail = 'credentials refused or missing (check AWS_ACCESS_KEY_ID / AWS_PROFILE and the key\'s permissions)'; break
    case 'throttled': detail = 'the server is throttling requests and retries ran out'; break
    case 'unreachable': detail = 'endpoint unreachable'; break
    case 'network': detail = 'connection broken'; break
    case 'server': detail = 'server error'; break
    default: detail = 'failed'
  }
  // The SDK's advice on an answer it cannot parse (a proxy's page, garbage) is for a programmer holding the error
  // object, and took a third of the line: the parser's own words stay.
  const said = notTls(err)
    ? 'the endpoint does not speak TLS: an http:// endpoint given as https://?'
    : redact(String(e.message ?? ''), secrets).replace(SDK_RAW_RESPONSE_HINT, '').replace(/\s+/g, ' ').trim().slice(0, 200)
  const tag = notTls(err) ? 'EPROTO' : status === undefined ? name : `${name}, HTTP ${status}`
  const informative = said !== '' && said !== name && said !== 'UnknownError'
  const last = kind === 'throttled' && classifyAttempt(err) !== 'throttled' ? 'last attempt: ' : ''
  detail += informative ? ` (${last}${tag}: ${said})` : ` (${last}${tag})`
  return new StoreError(kind, store, operation, key, detail, status)
}
