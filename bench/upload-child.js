/**
 * One timed upload of a file to an S3-compatible server, in a process of its
 * own so that its peak RSS is its alone. Run by bench/upload.js; also handy
 * by hand, e.g. under `node --cpu-prof`.
 *
 *   node bench/upload-child.js MODE ENDPOINT BUCKET KEY FILE [--part-size=BYTES] [--queue-size=N] [--keep]
 *
 * MODE:
 *   bare             lib-storage `Upload` of fs.createReadStream(FILE), on a
 *                    plain S3Client (path style, us-east-1, static credentials)
 *   shoebox          pipeline(fs.createReadStream(FILE), uploadSink(openStore('s3://BUCKET',
 *                    { endpoint, credentials }), KEY, { partSize, queueSize })) from dist/
 *                    (parts verified by CRC32: the default)
 *   shoebox-etag     the same with { verify: 'etag' } (MD5 of every part against the ETag)
 *
 * Both read the file with a 1 MiB highWaterMark. The clock runs from just
 * before the read stream is opened to the upload's completion (the client is
 * made before it, outside the clock, on both sides). After the clock stops,
 * a HeadObject checks the stored size, and the object is deleted (unless
 * --keep) so the in-memory server does not grow.
 *
 * Env: BENCH_SHOEBOX_DIST=path/to/index.js measures another build of
 * shoebox than dist/ (e.g. a scratch copy under bench/.data/ with a change
 * to lib/store/s3-writer.ts), for A/B tests.
 *
 * Prints one JSON line: { mode, bytes, seconds, etag, maxRssKiB, cpu: { user, system } (s) }.
 * maxRssKiB is process.resourceUsage().maxRSS, taken after the upload.
 */
import fs from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { DeleteObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { pathToFileURL } from 'node:url'

// BENCH_SHOEBOX_DIST: another build of shoebox to measure (a scratch copy of dist/, for A/B tests of lib/ changes).
const dist = process.env.BENCH_SHOEBOX_DIST === undefined ? '../dist/index.js' : pathToFileURL(process.env.BENCH_SHOEBOX_DIST).href
const { openStore, uploadSink } = await import(dist)

const args = process.argv.slice(2)
const positional = args.filter((a) => !a.startsWith('--'))
const flag = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : a.slice(name.length + 3)
}
const [mode, endpoint, bucket, key, file] = positional
if (file === undefined) {
  process.stderr.write('usage: node bench/upload-child.js bare|shoebox|shoebox-etag ENDPOINT BUCKET KEY FILE [--part-size=BYTES] [--queue-size=N] [--keep]\n')
  process.exit(2)
}
const partSize = Number(flag('part-size', 8 * 1024 * 1024))
const queueSize = Number(flag('queue-size', 4))
const keep = args.includes('--keep')
const HWM = 1024 * 1024
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' }
const bytes = fs.statSync(file).size

// The client used for the check and the delete; the bare candidate uploads with it too.
const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials })

let seconds
let etag
const cpu0 = process.cpuUsage()
if (mode === 'bare') {
  const t0 = performance.now()
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: fs.createReadStream(file, { highWaterMark: HWM }) },
    partSize,
    queueSize,
    leavePartsOnError: false
  })
  const out = await upload.done()
  seconds = (performance.now() - t0) / 1000
  etag = out.ETag
} else if (mode === 'shoebox' || mode === 'shoebox-etag') {
  const store = openStore(`s3://${bucket}`, { endpoint, credentials })
  const t0 = performance.now()
  const sink = uploadSink(store, key, { partSize: partSize % 1048576 === 0 ? `${partSize / 1048576}MiB` : partSize, queueSize, verify: mode === 'shoebox' ? 'checksum' : 'etag' })
  await pipeline(fs.createReadStream(file, { highWaterMark: HWM }), sink)
  seconds = (performance.now() - t0) / 1000
  etag = sink.result?.etag
  if (sink.result?.bytes !== bytes) throw new Error(`uploadSink reported ${sink.result?.bytes} bytes, the file has ${bytes}`)
  await store.close()
} else {
  throw new Error(`unknown mode '${mode}'`)
}
const cpu = process.cpuUsage(cpu0)
const maxRssKiB = process.resourceUsage().maxRSS

const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
if (head.ContentLength !== bytes) throw new Error(`${mode}: the stored object has ${head.ContentLength} bytes, the file ${bytes}`)
if (!keep) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
client.destroy()

process.stdout.write(JSON.stringify({ mode, bytes, seconds, etag, maxRssKiB, cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 } }) + '\n')
