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
 * fauxqs's package exports hide its S3Store (and its S3Error and XML
 * escaping), and startFauxqs() listens on 0.0.0.0; so build the app with our
 * own store, loaded beside the package's main file (dist/app.js ->
 * dist/s3/s3Store.js).
 */
async function loadFauxqsPart (file) {
  return await import(new URL(file, import.meta.resolve('fauxqs')).href)
}

/**
 * ListMultipartUploads, which fauxqs (1.9) lacks: it answers
 * `GET /bucket?uploads` as a listing of objects. Without it nothing could
 * test Store.listUploads() and `shoebox multipart` beyond refusing that
 * answer, so this answers from fauxqs's own store (its `multipartUploads`:
 * key, bucket, uploadId, initiated) as S3 does: `prefix`, `max-uploads`
 * (at most `maxUploads`, S3's 1000 by default; a test makes it small to
 * page), `key-marker` and `upload-id-marker`, uploads by key then by
 * initiation. A delimiter (grouping into CommonPrefixes) is not answered.
 * Without `nextMarkers`, a truncated page names no NextKeyMarker and
 * NextUploadIdMarker, as a server that only sets IsTruncated answers: the
 * client goes on from the last upload it was given.
 */
async function listUploadsHook (store, maxUploads, nextMarkers) {
  const { S3Error } = await loadFauxqsPart('./common/errors.js')
  const { escapeXml } = await loadFauxqsPart('./common/xml.js')
  const order = (a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)) ||
    a.initiated.getTime() - b.initiated.getTime() || (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0)
  // Where each page ended: a client that aborts what it lists asks for the page after an upload that is gone.
  const pageEnds = new Map()

  function answer (bucket, query) {
    if (!store.hasBucket(bucket)) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, bucket)
    if (query.has('delimiter')) throw new S3Error('NotImplemented', 'this test server does not group uploads by delimiter', 501)
    const asked = query.get('max-uploads') ?? '1000'
    if (!/^\d+$/.test(asked)) throw new S3Error('InvalidArgument', 'max-uploads must be a whole number', 400)
    const prefix = query.get('prefix') ?? ''
    const keyMarker = query.get('key-marker') ?? ''
    const idMarker = keyMarker === '' ? '' : query.get('upload-id-marker') ?? ''
    const marker = idMarker === '' ? undefined : store.multipartUploads.get(idMarker) ?? pageEnds.get(idMarker)
    if (idMarker !== '' && marker === undefined) throw new S3Error('InvalidArgument', 'Invalid uploadId marker', 400)
    // After the marker upload; with a key-marker alone, after every upload of that key (the last date there is).
    const after = keyMarker === '' ? undefined : { key: keyMarker, initiated: marker?.initiated ?? new Date(8.64e15), uploadId: idMarker }
    const open = [...store.multipartUploadsByBucket.get(bucket) ?? []].map((id) => store.multipartUploads.get(id))
      .filter((u) => u.key.startsWith(prefix) && (after === undefined || order(u, after) > 0)).sort(order)
    const page = open.slice(0, Math.min(Number(asked), maxUploads))
    const truncated = open.length > page.length
    const last = page.at(-1)
    if (last !== undefined) pageEnds.set(last.uploadId, { key: last.key, initiated: last.initiated, uploadId: last.uploadId })
    const element = (name, value) => `<${name}>${escapeXml(String(value))}</${name}>`
    return '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      element('Bucket', bucket) + element('KeyMarker', keyMarker) + element('UploadIdMarker', idMarker) +
      (last === undefined || !nextMarkers ? '' : element('NextKeyMarker', last.key) + element('NextUploadIdMarker', last.uploadId)) +
      element('Prefix', prefix) + element('MaxUploads', asked) + element('IsTruncated', truncated) +
      page.map((u) => '<Upload>' + element('Key', u.key) + element('UploadId', u.uploadId) +
        element('StorageClass', 'STANDARD') + element('Initiated', u.initiated.toISOString()) + '</Upload>').join('') +
      '</ListMultipartUploadsResult>'
  }

  return async (request, reply) => {
    if (request.method !== 'GET') return
    const url = new URL(request.url, 'http://faux.invalid')
    const bucket = /^\/([^/]+)\/?$/.exec(url.pathname)?.[1]
    if (bucket === undefined || !url.searchParams.has('uploads')) return
    reply.header('content-type', 'application/xml')
    try {
      reply.status(200).send(answer(decodeURIComponent(bucket), url.searchParams))
    } catch (err) {
      if (!(err instanceof S3Error)) throw err
      reply.status(err.statusCode).send(err.toXml())
    }
    return reply
  }
}

/**
 * Start the server and create `bucket` (default 'test-bucket').
 * `listUploads: false` leaves fauxqs's own answer to ListMultipartUploads
 * (a listing of objects), as an S3 look-alike without it gives;
 * `maxUploads` caps a page of uploads (default 1000, as S3); `nextMarkers:
 * false` leaves out where the next page starts (default: named, as S3).
 * Returns { app, store, endpoint, port }; stop with app.close().
 */
export async function startFauxS3 ({ bucket = 'test-bucket', listUploads = true, maxUploads = 1000, nextMarkers = true } = {}) {
  const { S3Store } = await loadFauxqsPart('./s3/s3Store.js')
  const store = new S3Store()
  store.createBucket(bucket)
  const app = buildApp({ logger: false, stores: { s3Store: store } })
  if (listUploads) app.addHook('onRequest', await listUploadsHook(store, maxUploads, nextMarkers))
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
