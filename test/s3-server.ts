/**
 * A real S3-protocol server for tests: fauxqs in-process, bound to
 * 127.0.0.1 on a free port, with its in-memory store open to inspection
 * (stored objects, open multipart uploads). Importing this module starts
 * nothing; call startS3(). It answers ListMultipartUploads (added by
 * bench/s3-server.js, fauxqs has none) unless started with
 * `listUploads: false`.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { startFauxS3, type FauxS3Options } from '../bench/s3-server.js'

/** A multipart upload open on the server, as its store holds it. */
export interface ServerUpload {
  key: string
  uploadId: string
  /** When the server began it; setUploadInitiated() changes it. */
  initiated: Date
}

export interface TestS3 {
  /** 'http://127.0.0.1:PORT' */
  endpoint: string
  port: number
  /** A bucket created at start (default name 'test-bucket'). */
  bucket: string
  credentials: { accessKeyId: string, secretAccessKey: string }
  /** 'us-east-1' */
  region: string
  /** Env vars for a child process / CLI run: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, SHOEBOX_S3_ENDPOINT=endpoint */
  env: Record<string, string>
  /**
   * A real SDK client for this server: endpoint, forcePathStyle: true,
   * region, credentials, maxAttempts 4. `overrides` replace any of these
   * (e.g. { endpoint: proxy.endpoint } to go through a fault proxy).
   * Clients made here are destroyed by stop().
   */
  client (overrides?: S3ClientConfig): S3Client
  createBucket (name: string): void
  /** Number of multipart uploads created but neither completed nor aborted (optionally for one bucket). */
  openMultipartUploads (bucket?: string): number
  /** The multipart uploads open in a bucket (default: `bucket`), by key then initiation. */
  openUploads (bucket?: string): ServerUpload[]
  /** Make the server hold that it began an upload at `initiated` (to age it); throws if it is not open. */
  setUploadInitiated (uploadId: string, initiated: Date): void
  /** Keys currently stored in a bucket (default: `bucket`), sorted. */
  keys (bucket?: string): string[]
  /** The stored bytes of an object (Buffer) or undefined. */
  object (key: string, bucket?: string): Buffer | undefined
  stop (): Promise<void>
}

/** Options: see FauxS3Options (bench/s3-server.d.ts). */
export async function startS3 (options: FauxS3Options = {}): Promise<TestS3> {
  const bucket = options.bucket ?? 'test-bucket'
  const { app, store, endpoint, port } = await startFauxS3({ ...options, bucket })
  const region = 'us-east-1'
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test-secret-shoebox' }
  const clients: S3Client[] = []
  let stopped: Promise<void> | undefined

  return {
    endpoint,
    port,
    bucket,
    credentials,
    region,
    env: {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: region,
      SHOEBOX_S3_ENDPOINT: endpoint
    },
    client (overrides = {}) {
      const client = new S3Client({
        endpoint,
        forcePathStyle: true,
        region,
        credentials: { ...credentials },
        maxAttempts: 4,
        ...overrides
      })
      clients.push(client)
      return client
    },
    createBucket (name) {
      store.createBucket(name)
    },
    openMultipartUploads (name) {
      if (name === undefined) return store.multipartUploads.size
      return store.multipartUploadsByBucket.get(name)?.size ?? 0
    },
    openUploads (name = bucket) {
      const open: ServerUpload[] = [...(store.multipartUploadsByBucket.get(name) ?? [])]
        .flatMap((id) => {
          const upload = store.multipartUploads.get(id)
          return upload === undefined ? [] : [{ key: upload.key, uploadId: upload.uploadId, initiated: upload.initiated }]
        })
      return open.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated.getTime() - b.initiated.getTime()))
    },
    setUploadInitiated (uploadId, initiated) {
      const upload = store.multipartUploads.get(uploadId)
      if (upload === undefined) throw new Error(`no multipart upload ${uploadId} is open`)
      upload.initiated = initiated
    },
    keys (name = bucket) {
      return [...(store.buckets.get(name)?.keys() ?? [])].sort()
    },
    object (key, name = bucket) {
      return store.buckets.get(name)?.get(key)?.body
    },
    stop () {
      stopped ??= (async () => {
        for (const client of clients.splice(0)) client.destroy()
        await app.close()
      })()
      return stopped
    }
  }
}
