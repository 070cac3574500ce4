/**
 * An in-memory S3-protocol server (fauxqs) bound to 127.0.0.1 on a free port.
 *
 * Imported by the tests (test/s3-server.ts) through startFauxS3(). Run
 * directly, it is a standalone server for benchmarks, so that an uploader's
 * RSS is measured apart from the server's:
 *
 *   node bench/s3-server.js [bucket]
 *
 * prints one JSON line {"endpoint":"http://127.0.0.1:PORT"} to stdout and
 * exits when its stdin closes or on SIGTERM/SIGINT.
 */
import { pathToFileURL } from 'node:url'
import { buildApp } from 'fauxqs'

/**
 * fauxqs's package exports hide its S3Store, and startFauxqs() listens on
 * 0.0.0.0; so build the app with our own store, loaded beside the package's
 * main file (dist/app.js -> dist/s3/s3Store.js).
 */
async function loadS3Store () {
  const url = new URL('./s3/s3Store.js', import.meta.resolve('fauxqs'))
  const { S3Store } = await import(url.href)
  return S3Store
}

/**
 * Start the server and create `bucket` (default 'test-bucket').
 * Returns { app, store, endpoint, port }; stop with app.close().
 */
export async function startFauxS3 ({ bucket = 'test-bucket' } = {}) {
  const S3Store = await loadS3Store()
  const store = new S3Store()
  store.createBucket(bucket)
  const app = buildApp({ logger: false, stores: { s3Store: store } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address()
  return { app, store, endpoint: `http://127.0.0.1:${port}`, port }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href

if (isMain) {
  const { app, endpoint } = await startFauxS3({ bucket: process.argv[2] ?? 'bench' })
  process.stdout.write(JSON.stringify({ endpoint }) + '\n')
  let closing
  const stop = () => { closing ??= app.close().then(() => process.exit(0)) }
  process.stdin.on('end', stop).on('close', stop).resume()
  process.on('SIGTERM', stop).on('SIGINT', stop)
}
