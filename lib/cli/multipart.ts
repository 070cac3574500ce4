/**
 * shoebox multipart: the multipart uploads open under an s3:// URL, and
 * aborting the old ones. A writer aborts its own uploads when one fails, and
 * a killed writer's when it restarts in its directory (roll/uploader.ts);
 * one that never restarts there (its host gone, its directory deleted)
 * leaves them open, and S3 bills their parts until they are aborted.
 */
import { ShoeboxError } from '../errors.js'
import { openStore } from '../store/open-store.js'
import { serverNow } from '../store/store.js'
import { schemeOf } from '../store/store-url.js'
import { plural } from '../plural.js'
import type { Command } from './command.js'
import { usage } from './io.js'
import { oneLine } from './one-line.js'
import { duration, parse } from './options.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import { storeUrlArg } from './store-url-arg.js'

/**
 * The youngest upload --abort takes without --force. A live writer keeps a
 * file's upload open while it writes the file (early upload), so for as long
 * as its roll age; a day covers the usual ones, and any difference between
 * this host's clock and the server's.
 */
const SAFE_AGE_MS = 24 * 60 * 60 * 1000
const SAFE_AGE = '1d'

const help = `Usage: shoebox multipart URL [--older-than AGE [--abort [--force]]]

Lists the multipart uploads open under the s3:// URL (begun, neither
completed nor aborted), one per line: key, upload id, and when the server
began it; then a count. A writer aborts its own when it fails, and a killed
writer's when it restarts in its directory; one that never comes back (its
host gone, its directory deleted) leaves them open, and S3 keeps (and bills)
their parts until they are aborted. None open under URL is an error (exit 1).
Nothing is aborted without --abort.

Options:
  --older-than AGE      only the uploads begun more than AGE ago (30m, 12h, 7d)
  --abort               abort the uploads listed; needs --older-than, at least
                        ${SAFE_AGE}: a running writer keeps an upload open while it
                        writes the file (up to its roll age)
  --force               let --abort take uploads younger than ${SAFE_AGE}
${storeOptionHelp}
  -h, --help            show this help`

export const multipartCommand: Command = {
  name: 'multipart',
  reportsOnStdout: true,
  summary: 'list the multipart uploads left open under an s3:// URL; abort old ones',
  flags: STORE_FLAGS,
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      'older-than': { type: 'string' },
      abort: { type: 'boolean' },
      force: { type: 'boolean' },
      ...storeOptionSpec
    }, true)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (positionals.length !== 1) throw usage('needs exactly one s3:// URL')
    const url = storeUrlArg(positionals[0], storeOptions)
    if (schemeOf(url) !== 's3') {
      throw usage(`needs an s3:// URL, got ${url}: a directory has no multipart uploads (a writer's unfinished files there are hidden temporary files, sealed by 'shoebox recover')`)
    }
    const olderThan = duration('--older-than', values['older-than'])
    const abort = values.abort === true
    if (values.force === true && !abort) throw usage('--force goes with --abort')
    if (abort && olderThan === undefined) throw usage(`--abort needs --older-than AGE (at least ${SAFE_AGE}): which uploads are old enough to be a dead writer's`)
    if (abort && olderThan !== undefined && olderThan < SAFE_AGE_MS && values.force !== true) {
      throw usage(`--older-than ${String(values['older-than'])} is under ${SAFE_AGE}: a running writer may own a younger upload; give --force to abort them all the same`)
    }

    const store = openStore(url, storeOptions)
    const now = Date.now()
    const age = olderThan === undefined ? '' : ` begun over ${String(values['older-than'])} ago`
    let open = 0
    let younger = 0
    let aborted = 0
    let failed = 0
    try {
      for await (const upload of store.listUploads()) {
        open++
        // Aged by the server's clock, as Initiated is (a local clock off from it misjudged them). An upload whose
        // age the server does not give is never taken for an old one.
        const serverTime = serverNow(upload, now)
        const began = upload.initiated?.getTime() ?? serverTime
        if (olderThan !== undefined && serverTime - began <= olderThan) {
          younger++
          continue
        }
        const line = `${oneLine(upload.key)}\t${upload.uploadId}\t${upload.initiated?.toISOString() ?? 'began at an unknown time'}`
        if (!abort) {
          io.stdout.write(line + '\n')
          continue
        }
        try {
          await store.abortUpload(upload.key, upload.uploadId)
        } catch (err) {
          // One upload that cannot be aborted (refused, a key shoebox would not write) keeps only itself open.
          if (!(err instanceof ShoeboxError)) throw err
          failed++
          io.stderr.write(`shoebox multipart: ${oneLine(err.message)}; upload ${upload.uploadId} is still open, going on with the others\n`)
          continue
        }
        aborted++
        io.stdout.write(`${line}\taborted\n`)
      }
    } catch (err) {
      // The listing broke off: say what was aborted before it (listed above).
      if (err instanceof ShoeboxError && aborted > 0) err.message += `; ${plural(aborted, 'upload')} aborted before it (listed above)`
      throw err
    } finally {
      await store.close()
    }

    if (open === 0) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `no multipart upload is open under ${store.url}`)
    const left = younger === 0 ? '' : `; ${plural(younger, 'younger one')} ${abort ? 'kept open' : 'not listed'}`
    if (!abort) {
      io.stdout.write(`${plural(open - younger, 'open multipart upload')} under ${store.url}${age}${left}\n`)
      return 0
    }
    const kept = failed === 0 ? '' : `; ${plural(failed, 'upload')} could not be aborted and stay${failed === 1 ? 's' : ''} open (named above)`
    io.stdout.write(`${plural(aborted, 'multipart upload')} aborted under ${store.url}${age}${left}${kept}\n`)
    return failed === 0 ? 0 : 1
  }
}
