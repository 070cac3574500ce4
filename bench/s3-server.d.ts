import type { buildApp } from 'fauxqs'

/** The parts of fauxqs's S3Store the tests look into (its .d.ts marks them private). */
export interface FauxS3Store {
  buckets: Map<string, Map<string, { key: string, body: Buffer }>>
  multipartUploads: Map<string, { uploadId: string, bucket: string, key: string, initiated: Date }>
  multipartUploadsByBucket: Map<string, Set<string>>
  createBucket (name: string): void
}

export interface FauxS3 {
  /** The fauxqs Fastify app; stop with app.close(). */
  app: ReturnType<typeof buildApp>
  store: FauxS3Store
  endpoint: string
  port: number
}

export interface FauxS3Options {
  /** Created at start; default 'test-bucket'. */
  bucket?: string
  /** false: no ListMultipartUploads (fauxqs answers it as a listing of objects); default true. */
  listUploads?: boolean
  /** The most uploads one ListMultipartUploads page holds; default 1000. */
  maxUploads?: number
  /** false: a truncated ListMultipartUploads page names no NextKeyMarker nor NextUploadIdMarker (a server that sets only IsTruncated); default true. */
  nextMarkers?: boolean
}

export function startFauxS3 (options?: FauxS3Options): Promise<FauxS3>
