/**
 * The transfer an S3 request belongs to, carried through the SDK's
 * middleware by AsyncLocalStorage: the statistics it counts against, and who
 * wants to hear of a multipart upload's id or of each stored part's checksum.
 * Its own module so that the store, the writer and the part check share it
 * without importing one another in a circle.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
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

export const currentTransfer = new AsyncLocalStorage<TransferContext>()
