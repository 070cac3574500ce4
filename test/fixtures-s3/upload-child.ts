/**
 * A process that ships the sealed files of a directory (SealedUploader) to
 * an S3 store: argv DIR URL ENDPOINT, credentials as JSON in
 * SHOEBOX_TEST_CREDENTIALS. For tests that SIGKILL it mid-upload.
 */
import { SealedUploader } from '../../lib/roll/uploader.js'
import { openStore } from '../../lib/store/open-store.js'

const [dir, url, endpoint] = process.argv.slice(2)
const credentials = JSON.parse(process.env.SHOEBOX_TEST_CREDENTIALS ?? '{}') as { accessKeyId: string, secretAccessKey: string }
const store = openStore(url, { endpoint, credentials, region: 'us-east-1' })
const uploader = new SealedUploader(dir, store, { partSize: '5MiB', attempts: 1 })
await uploader.resume()
const failure = await uploader.drain()
await store.close()
process.stdout.write(failure === undefined ? 'done\n' : `failed: ${failure.message}\n`)
