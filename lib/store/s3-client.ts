/**
 * Everything that needs the AWS SDK's code, in one module that S3Store
 * loads with import() on its first request: loading @aws-sdk/client-s3
 * costs more than starting Node itself, and a program (or a CLI
 * command) that never names an s3:// URL should not pay for it. Nothing else
 * in lib/ imports the SDK except for types.
 *
 * makeS3Client() builds the client from the URL's options and the
 * environment (s3-config.ts); instrument() adds the middleware that counts
 * retries and failures, reports each stored part's checksums to the
 * transfer the request belongs to (s3-context.ts), and leaves a part whose
 * CRC32 is sent unhashed for the signature where that hash protects
 * nothing more (unsignedPayload()).
 */
import { createRequire } from 'node:module'
import type { S3Client as S3ClientType, S3ClientConfig } from '@aws-sdk/client-s3'
import { crc32Continue } from '../checksum.js'
import type { TransferStats } from '../transfer/stats.js'
import { transferOf, type TransferContext } from './s3-context.js'
import { clientConfig, type S3StoreOptions } from './s3-config.js'
import { classifyAttempt, noteThrottledBefore } from './store-error.js'

/**
 * The SDK (CommonJS) through require(), not import: imported from an ES
 * module, Node first lexes each CommonJS file's source for its export names
 * (cjs-module-lexer over client-s3's 270 KB and what it re-exports), which
 * doubled the load's CPU here (145 against 77 ms, measured alone; the load
 * runs on the writer's main thread while it writes, bench/RESULTS.md "zstd
 * to S3, third pass").
 */
const {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand,
  HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand
} = createRequire(import.meta.url)('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3')

/** The SDK's classes a store and its writers use. */
export const sdk = {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand,
  HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand
}
export type S3Sdk = typeof sdk

/** What a store's first request loads: its client and the SDK's classes. */
export interface S3Connection {
  client: S3ClientType
  sdk: S3Sdk
}

export function makeS3Client (options: S3StoreOptions): S3ClientType {
  if (options.client !== undefined) return options.client
  // The SDK's CRC32 of each part (and of a read's body, to check it) with this package's CRC32 (native where
  // installed: about 3x zlib.crc32, the SDK's own). Still the SDK's own pass over the bytes it sends: part-check.ts
  // compares it with the one summed as they were written.
  return new S3Client({ ...clientConfig(options), checksumAlgorithms: { CRC32: Crc32Checksum } } as S3ClientConfig)
}

/** The SDK's Checksum interface (@smithy/types) over checksum.ts's crc32Continue. */
class Crc32Checksum {
  #crc = 0

  update (data: Uint8Array): void {
    this.#crc = crc32Continue(this.#crc, data)
  }

  async digest (): Promise<Uint8Array> {
    const out = new Uint8Array(4)
    new DataView(out.buffer).setUint32(0, this.#crc >>> 0)
    return out
  }

  reset (): void {
    this.#crc = 0
  }
}

interface HasMetadata { $metadata?: { attempts?: number }, UploadId?: string, ChecksumCRC32?: string }

interface SignedRequest { headers?: Record<string, string>, query?: Record<string, string | string[] | null>, protocol?: string, hostname?: string }

const CHECKSUMMED_PUTS = new Set(['UploadPartCommand', 'PutObjectCommand'])

/** Where a request's transfer is kept on its middleware context (a symbol: no SDK key can clash). */
const TRANSFER = Symbol('shoebox.transfer')
/** Set on a request's context once one of its attempts was throttled (see noteThrottledBefore()). */
const THROTTLED = Symbol('shoebox.throttled')
interface Tagged { [TRANSFER]?: TransferContext, [THROTTLED]?: boolean }

/**
 * May a put that carries its CRC32 (x-amz-checksum-crc32, which the server
 * checks against the bytes it received) skip SigV4's SHA-256 of the payload
 * (x-amz-content-sha256: UNSIGNED-PAYLOAD)? That hash is a second pass over
 * every byte (50-170 ms per 50 MB here), and beyond the CRC32 it only
 * guards against someone altering the body on the way while keeping its
 * CRC32: over https TLS already does that, and on loopback there is no
 * way. Over plain http to another host the payload stays signed, as the
 * AWS SDKs do by default (Java's AWS4UnsignedPayloadSigner, v2's
 * s3DisableBodySigning).
 */
export function unsignedPayload (protocol: string | undefined, hostname: string | undefined): boolean {
  if (protocol === 'https:') return true
  if (protocol !== 'http:' || hostname === undefined) return false
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** Retries and failed attempts, counted where the SDK makes them, against the current transfer or else `fallback`. */
export function instrument (client: S3ClientType, fallback: TransferStats): void {
  const stack = client.middlewareStack
  const transfer = (context: object): TransferContext | undefined => (context as Tagged)[TRANSFER]
  const stats = (context: object): TransferStats => transfer(context)?.stats ?? fallback
  // First of all: the transfer the request's input was tagged with, onto the request's context for the others.
  stack.add((next, context) => async (args) => {
    (context as Tagged)[TRANSFER] = transferOf(args.input)
    return await next(args)
  }, { step: 'initialize', priority: 'high', name: 'shoeboxTransfer', override: true })
  // Outermost: the whole request, however many attempts it took.
  stack.add((next, context) => async (args) => {
    try {
      const out = await next(args)
      const output = out.output as HasMetadata
      stats(context).retried((output.$metadata?.attempts ?? 1) - 1)
      if (context.commandName === 'CreateMultipartUploadCommand' && output.UploadId !== undefined) {
        transfer(context)?.onMultipartUpload?.(output.UploadId)
      }
      return out
    } catch (err) {
      stats(context).retried(((err as HasMetadata).$metadata?.attempts ?? 1) - 1)
      if ((context as Tagged)[THROTTLED] === true) noteThrottledBefore(err)
      throw err
    }
  }, { step: 'initialize', name: 'shoeboxCountRetries', override: true })
  // Innermost: once per attempt.
  stack.add((next, context) => async (args) => {
    try {
      return await next(args)
    } catch (err) {
      // A missing object asked about is an answer, not a failure; nor is a request its caller cut (a read dropped).
      if ((err as Error).name === 'AbortError') throw err
      const kind = classifyAttempt(err)
      if (kind !== 'not-found') stats(context).failed(kind)
      if (kind === 'throttled') (context as Tagged)[THROTTLED] = true
      throw err
    }
  }, { step: 'deserialize', priority: 'high', name: 'shoeboxCountFailures', override: true }) // outside the deserializer, to see the S3 errors it throws
  // After the SDK has checksummed a part (build step): what it sent, and what the server answered.
  stack.add((next, context) => async (args) => {
    const onPart = transfer(context)?.onPart
    if (onPart === undefined || !CHECKSUMMED_PUTS.has(context.commandName ?? '')) return await next(args)
    const request = args.request as SignedRequest
    const sent = request.headers?.['x-amz-checksum-crc32']
    const out = await next(args)
    onPart({ partNumber: Number(request.query?.partNumber ?? 1), sent, stored: (out.output as HasMetadata).ChecksumCRC32 })
    return out
  }, { step: 'finalizeRequest', priority: 'low', name: 'shoeboxPartChecksums', override: true })
  // Before signing (finalizeRequest), after the SDK's checksum (build): see unsignedPayload().
  stack.add((next, context) => async (args) => {
    const request = args.request as SignedRequest
    const headers = request.headers
    if (CHECKSUMMED_PUTS.has(context.commandName ?? '') && headers?.['x-amz-checksum-crc32'] !== undefined &&
      headers['x-amz-content-sha256'] === undefined && unsignedPayload(request.protocol, request.hostname)) {
      headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
    }
    return await next(args)
  }, { step: 'build', priority: 'low', name: 'shoeboxUnsignedPayload', override: true })
}
