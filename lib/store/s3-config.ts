/**
 * Everything an S3 client needs, from the URL, the options and the
 * environment, the way AWS tools read it: credentials from the SDK's default
 * chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE, ~/.aws, SSO, instance roles);
 * the region from AWS_REGION / AWS_DEFAULT_REGION or the profile; and for
 * S3-compatible servers an endpoint from `endpoint` or SHOEBOX_S3_ENDPOINT,
 * which also turns on path-style addressing unless told otherwise.
 * Types only from the SDK here: its code loads on first use (s3-client.ts).
 */
import buffer from 'node:buffer'
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import { givenUrl, givenValue, invalidOption, ShoeboxError, VariableRefusedError } from '../errors.js'
import { checkEndpoint, checkFlag, durationOption, isHttpUrl, givenSize, oneOf, positiveCount, sizeOption } from '../units.js'
import type { WriterOptions } from './store.js'

export interface S3StoreOptions {
  /** An S3-compatible endpoint, e.g. 'http://127.0.0.1:9000'. Default: SHOEBOX_S3_ENDPOINT, else AWS. */
  endpoint?: string
  /** Region. Default: AWS_REGION, AWS_DEFAULT_REGION, else the profile's ('us-east-1' with a custom endpoint). */
  region?: string
  /** Path-style URLs (bucket in the path). Default: on when an endpoint is given (SHOEBOX_S3_PATH_STYLE=0 turns it off). */
  pathStyle?: boolean
  /** Explicit credentials; default: the SDK's chain. */
  credentials?: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  /** Attempts per request, the first included (retries use the SDK's jittered exponential backoff). Default 5. */
  maxAttempts?: number
  /** How long a request may stall before it is retried: milliseconds or a duration string ('2m'). Default 120000. */
  requestTimeout?: number | string
  /** An S3Client to use as is (its configuration wins). */
  client?: S3Client
  /** Environment to read (tests). Default process.env. */
  env?: NodeJS.ProcessEnv
}

export interface S3Location {
  bucket: string
  /** Key prefix without leading or trailing '/', '' for the bucket's root. */
  prefix: string
}

/** Split 's3://bucket/some/prefix' into bucket and prefix. Credentials in a URL are refused, not echoed. */
export function parseS3Url (url: string): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url)
  if (m === null) throw new ShoeboxError('SHOEBOX_BAD_URL', `not an s3:// URL: ${givenUrl(url)}`)
  const bucket = m[1]
  if (bucket.includes('@')) {
    throw new ShoeboxError('SHOEBOX_BAD_URL', 's3:// URL must not carry credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE')
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ShoeboxError('SHOEBOX_BAD_URL', `s3://${bucket}: not a valid bucket name (3-63 of a-z, 0-9, '.', '-')`)
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '')
  // S3 keeps '.' and '..' in a key as they are: s3://b/logs/../x wrote keys
  // 'logs/../x/...', which no read of s3://b/x finds, and which a copy of the
  // bucket to disk (aws s3 sync) turns into paths that climb out of it.
  const dots = prefix.split('/').find((segment) => segment === '.' || segment === '..')
  if (dots !== undefined) {
    throw new ShoeboxError('SHOEBOX_BAD_URL', `${s3StoreUrl({ bucket, prefix })}: the key prefix has a '${dots}' segment, which S3 keeps in the key as it is`)
  }
  return { bucket, prefix }
}

/** How errors and logs name a store: 's3://bucket' or 's3://bucket/prefix'. */
export function s3StoreUrl ({ bucket, prefix }: S3Location): string {
  return prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`
}

const DEFAULT_MAX_ATTEMPTS = 5
const DEFAULT_REQUEST_TIMEOUT = 120_000

/**
 * maxAttempts and requestTimeout checked and defaulted. openStore() checks
 * them at once (lazy-store.ts), not when the first request makes the client:
 * a maxAttempts of 0 or null reached the SDK as it was.
 */
export function s3ClientSettings (options: S3StoreOptions): { maxAttempts: number, requestTimeout: number } {
  checkClientOptions(options)
  return {
    maxAttempts: positiveCount(options.maxAttempts, DEFAULT_MAX_ATTEMPTS, 'maxAttempts'),
    requestTimeout: durationOption(options.requestTimeout, DEFAULT_REQUEST_TIMEOUT, 'requestTimeout')
  }
}

/**
 * SHOEBOX_S3_ENDPOINT in `env`, which an S3 store without an `endpoint` takes: the variable is the endpoint's
 * default, and is taken as the option is, so checked so, naming it (SHOEBOX_BAD_URL). Also for a CLI command to
 * check it before any work, where it opens an S3 store without --endpoint (store-url-arg.ts).
 */
export function checkEndpointVariable (env: NodeJS.ProcessEnv = process.env): void {
  const fromEnv = nonEmpty(env.SHOEBOX_S3_ENDPOINT)
  if (fromEnv !== undefined && !isHttpUrl(fromEnv)) {
    throw new VariableRefusedError('SHOEBOX_BAD_URL', 'SHOEBOX_S3_ENDPOINT', `SHOEBOX_S3_ENDPOINT (the default endpoint) must be an http:// or https:// URL, got ${givenUrl(fromEnv)}`)
  }
}

/**
 * endpoint, region, pathStyle and credentials of the wrong type or form: they were taken, and the first request
 * failed with the SDK's words ('region is not a function', 'Custom endpoint `undefined//undefinedundefined` was
 * not a valid URI', with a line of its own on stderr). Credentials are never quoted: they hold the secret.
 */
function checkClientOptions (options: S3StoreOptions): void {
  const { endpoint, region, credentials } = options
  checkEndpoint(endpoint)
  if (endpoint === undefined) checkEndpointVariable(options.env)
  if (region !== undefined && (typeof region !== 'string' || region === '')) throw invalidOption('region', `must be a region name such as us-east-1, got ${givenValue(region)}`)
  checkFlag(options.pathStyle, 'pathStyle')
  if (credentials !== undefined && typeof credentials !== 'function') {
    const c = credentials as Partial<NonNullable<S3StoreOptions['credentials']>> | null
    if (c === null || typeof c !== 'object' || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string' || (c.sessionToken !== undefined && typeof c.sessionToken !== 'string')) {
      throw invalidOption('credentials', 'must be { accessKeyId, secretAccessKey, sessionToken? } (strings) or a provider function')
    }
  }
}

/** Values of the environment a message must never show. */
export function secretsOf (options: S3StoreOptions): string[] {
  const env = options.env ?? process.env
  return [
    options.credentials?.secretAccessKey, options.credentials?.sessionToken,
    env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN
  ].filter((s): s is string => typeof s === 'string' && s !== '')
}

/** The S3Client configuration of options without a client of their own (s3-client.ts builds the client: the SDK loads only then). */
export function clientConfig (options: S3StoreOptions): S3ClientConfig {
  const settings = s3ClientSettings(options)
  const env = options.env ?? process.env
  const endpoint = options.endpoint ?? nonEmpty(env.SHOEBOX_S3_ENDPOINT)
  const pathStyleEnv = nonEmpty(env.SHOEBOX_S3_PATH_STYLE)
  const pathStyle = options.pathStyle ?? (pathStyleEnv !== undefined ? pathStyleEnv !== '0' && pathStyleEnv !== 'false' : endpoint !== undefined)
  // Unset, the SDK reads the profile's region; an S3-compatible server rarely cares, so it gets a default.
  const region = options.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ??
    (endpoint !== undefined ? 'us-east-1' : undefined)
  const config: S3ClientConfig = {
    forcePathStyle: pathStyle,
    followRegionRedirects: true,
    maxAttempts: settings.maxAttempts,
    // requestTimeout is how long a request may stall: the handler's socketTimeout, no byte either way for that
    // long fails the try (a TimeoutError, which the SDK retries). Not the handler's own requestTimeout: since
    // @smithy/node-http-handler 4.x that is a whole-request deadline that only logs a warning unless
    // throwOnRequestTimeout, so a server that took a request and never answered held the command for ever
    // (with the SDK's warning on stderr), and as a deadline it would cut a slow upload that is still moving.
    requestHandler: {
      socketTimeout: settings.requestTimeout,
      connectionTimeout: 10_000
    }
  }
  if (endpoint !== undefined) config.endpoint = endpoint
  if (region !== undefined) config.region = region
  if (options.credentials !== undefined) config.credentials = options.credentials
  return config
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

const MIN_PART_SIZE = 5 * 1024 * 1024
/** S3's largest part, or the largest Buffer where that is smaller (4 GiB on Node 20). */
const MAX_PART_SIZE = Math.min(5 * 1024 ** 3, buffer.constants.MAX_LENGTH)
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024
const DEFAULT_QUEUE_SIZE = 4

/** An S3 writer's settings from its options (WriterOptions says what each means). */
export interface S3WriterSettings {
  partSize: number
  queueSize: number
  verify: 'checksum' | 'etag' | false
}

/**
 * A part size (WriterOptions.partSize: a number or a size string; undefined
 * for the default) in bytes, or SHOEBOX_INVALID_OPTION naming `option`.
 * Exported for `shoebox upload --part-size` and the uploader's
 * upload.partSize, which are checked so for every store, not only for S3,
 * the one store that uses it.
 */
export function checkPartSize (given: unknown, option = 'partSize'): number {
  const partSize = sizeOption(given, DEFAULT_PART_SIZE, option)
  if (partSize < MIN_PART_SIZE) throw invalidOption(option, `must be at least 5MiB (S3's minimum part), got ${givenSize(given, partSize)}`)
  // Larger, S3 refuses the part, or no Buffer can hold it: either only once a part's worth was read.
  if (partSize > MAX_PART_SIZE) {
    throw invalidOption(option, `must be at most ${MAX_PART_SIZE} bytes (S3's largest part is 5GiB, and a part is held in one Buffer), got ${givenSize(given, partSize)}`)
  }
  return partSize
}

/**
 * The writer options checked and defaulted. Here, not in s3-writer.ts, so
 * that the store opened by openStore() (lazy-store.ts) refuses a bad option
 * at once, as the writer does, before the writer's code has loaded.
 */
export function s3WriterSettings (options: WriterOptions): S3WriterSettings {
  const partSize = checkPartSize(options.partSize)
  const queueSize = positiveCount(options.queueSize, DEFAULT_QUEUE_SIZE, 'queueSize')
  const verify = oneOf(options.verify === undefined ? 'checksum' : options.verify, ['checksum', 'etag', false, true] as const, 'verify')
  return { partSize, queueSize, verify: verify === true ? 'checksum' : verify }
}
