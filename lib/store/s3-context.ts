/**
 * The transfer an S3 request belongs to: the statistics it counts against,
 * and who wants to hear of a multipart upload's id or of each stored part's
 * checksum. The request's input object is tagged with it before it is sent
 * (withTransfer), and the client's first middleware moves it onto the
 * request's own context for the others (s3-client.ts). Not an
 * AsyncLocalStorage: on Node 20 its first run() installs promise hooks that
 * every promise of the process pays for afterwards, the writer's own
 * included. Its own module so that the store, the writer and the part check
 * share it without importing one another in a circle.
 */
import type { TransferStats } from '../transfer/stats.js'

export interface TransferContext {
  stats: TransferStats
  /** Called (synchronously) as soon as the server has given a multipart upload its id. */
  onMultipartUpload?: (uploadId: string) => void
  /** Called for each part (or single PutObject, part 1) the server accepted, with the checksums sent and echoed. */
  onPart?: (part: PartChecksum) => void
}

export interface PartChecksum {
  partNumber: number
  /** The SDK's x-amz-checksum-crc32 of the bytes it sent (base64), if it sent one. */
  sent: string | undefined
  /** The CRC32 the server says it stored (base64), if it says. */
  stored: string | undefined
}

/** Transfers by the input object of the request they sent (weakly: a request's input goes with it). */
const transfers = new WeakMap<object, TransferContext>()

/** Count the request made of `input` (a command's input object) against `transfer`; returns `input`. */
export function withTransfer<T extends object> (input: T, transfer: TransferContext): T {
  transfers.set(input, transfer)
  return input
}

/** The transfer a request's input was tagged with, if any. */
export function transferOf (input: unknown): TransferContext | undefined {
  return typeof input === 'object' && input !== null ? transfers.get(input) : undefined
}
