/**
 * Everything that needs the AWS SDK's code, in one module that S3Store
 * loads with import() on its first request: loading @aws-sdk/client-s3 and
 * lib-storage costs more than starting Node itself, and a program (or a CLI
 * command) that never names an s3:// URL should not pay for it. Nothing else
 * in lib/ imports the SDK except for types.
 *
 * makeS3Client() builds the client from the URL's options and the
 * environment (s3-config.ts); instrument() adds the middleware that counts
 * retries and failures and reports each stored part's checksums to the
 * transfer the request belongs to (s3-context.ts).
 */
import {
  AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
  S3Client, type S3ClientConfig
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { TransferStats } from '../transfer/stats.js'
import { currentTransfer } from './s3-context.js'
import { clientConfig, type S3StoreOptions } from './s3-config.js'
import { classify } from './store-error.js'

/** The SDK's classes a store and its writers use. */
export const sdk = {
  AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, Upload
}
export type S3Sdk = typeof sdk

/** What a store's first request loads: its client and the SDK's classes. */
export interface S3Connection {
  client: S3Client
  sdk: S3Sdk
}

export function makeS3Client (options: S3StoreOptions): S3Client {
  if (options.client !== undefined) return options.client
  return new S3Client(clientConfig(options) as S3ClientConfig)
}

interface HasMetadata { $metadata?: { attempts?: number }, UploadId?: string, ChecksumCRC32?: string }

interface SignedRequest { headers?: Record<string, string>, query?: Record<string, string | string[] | null> }

const CHECKSUMMED_PUTS = new Set(['UploadPartCommand', 'PutObjectCommand'])

/** Retries and failed attempts, counted where the SDK makes them, against the current transfer or else `fallback`. */
export function instrument (client: S3Client, fallback: TransferStats): void {
  const stack = client.middlewareStack
  const stats = (): TransferStats => currentTransfer.getStore()?.stats ?? fallback
  // Outermost: the whole request, however many attempts it took.
  stack.add((next, context) => async (args) => {
    try {
      const out = await next(args)
      const output = out.output as HasMetadata
      stats().retried((output.$metadata?.attempts ?? 1) - 1)
      if (context.commandName === 'CreateMultipartUploadCommand' && output.UploadId !== undefined) {
        currentTransfer.getStore()?.onMultipartUpload?.(output.UploadId)
      }
      return out
    } catch (err) {
      stats().retried(((err as HasMetadata).$metadata?.attempts ?? 1) - 1)
      throw err
    }
  }, { step: 'initialize', name: 'shoeboxCountRetries', override: true })
  // Innermost: once per attempt.
  stack.add((next) => async (args) => {
    try {
      return await next(args)
    } catch (err) {
      // A missing object asked about is an answer, not a failure.
      const kind = classify(err)
      if (kind !== 'not-found') stats().failed(kind)
      throw err
    }
  }, { step: 'deserialize', priority: 'high', name: 'shoeboxCountFailures', override: true }) // outside the deserializer, to see the S3 errors it throws
  // After the SDK has checksummed a part (build step): what it sent, and what the server answered.
  stack.add((next, context) => async (args) => {
    const onPart = currentTransfer.getStore()?.onPart
    if (onPart === undefined || !CHECKSUMMED_PUTS.has(context.commandName ?? '')) return await next(args)
    const request = args.request as SignedRequest
    const sent = request.headers?.['x-amz-checksum-crc32']
    const out = await next(args)
    onPart({ partNumber: Number(request.query?.partNumber ?? 1), sent, stored: (out.output as HasMetadata).ChecksumCRC32 })
    return out
  }, { step: 'finalizeRequest', priority: 'low', name: 'shoeboxPartChecksums', override: true })
}
