/** shoebox upload: files into a store, each under its own name, verified. */
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { abortReason, ShoeboxError, throwIfAborted } from '../errors.js'
import { openStore } from '../store/open-store.js'
import { StoreError } from '../store/store-error.js'
import type { Command } from './command.js'
import { describeIoError, quotedGlobHint, usage } from './io.js'
import { asUsage, parse, positiveInteger } from './options.js'
import { storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import { storeUrlArg } from './store-url-arg.js'
import { TransferReporter } from './transfer-reporter.js'
import { plural } from '../plural.js'
import { untilInterrupted } from './interrupt.js'
import { oneLine } from './one-line.js'

const help = `Usage: shoebox upload FILE... --to URL [options]

Uploads each FILE to the store URL (s3://bucket/prefix, file:///dir or a
directory) under the key of its file name, as a multipart upload on S3, and
verifies it (each part's CRC32 as sent against the bytes read, and the
stored size). Prints one line per file to stdout and the transfer statistics to
stderr. A failed upload leaves no multipart upload behind. Two FILEs with the
same name (a/x.gz b/x.gz) would be one key: that is refused before anything
is uploaded. With --delete-local, a file that changed during its upload is
kept, and the command fails naming it.

Options:
  --to URL              the store to upload into (required)
  --part-size SIZE      multipart part size (default 8MiB, at least 5MiB)
  --queue-size N        parts in flight per file (default 4)
  --delete-local        delete each file once its upload is verified
${storeOptionHelp}
  -h, --help            show this help`

export const uploadCommand: Command = {
  name: 'upload',
  summary: 'upload files to a store, verified',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      to: { type: 'string' },
      'part-size': { type: 'string' },
      'queue-size': { type: 'string' },
      'delete-local': { type: 'boolean' },
      ...storeOptionSpec
    }, true)
    if (positionals.length === 0) throw usage('upload needs at least one FILE')
    if (typeof values.to !== 'string') throw usage('upload needs --to URL')
    const queueSize = positiveInteger('--queue-size', values['queue-size'])
    refuseSharedKeys(positionals)
    const store = openStore(storeUrlArg(values.to), storeOptionsFrom(values))
    const transfers = new TransferReporter(io, 'shoebox upload', () => store.stats())
    let uploaded = false
    let done = 0
    try {
      await untilInterrupted(async (signal) => {
        for (const file of positionals) {
          throwIfAborted(signal)
          const key = path.basename(file)
          let before: fs.Stats
          try {
            before = await fs.promises.stat(file)
          } catch (err) {
            throw new ShoeboxError('SHOEBOX_IO', `cannot read ${file}: ${describeIoError(err)}${quotedGlobHint(file, err)}`)
          }
          // (A FIFO or a device was called a directory: its size is not its content, so neither is uploaded.)
          if (!before.isFile()) throw new ShoeboxError('SHOEBOX_IO', `cannot read ${file}: ${before.isDirectory() ? 'is a directory' : 'not a regular file'}`)
          const writer = asUsage(() => store.writer(key, { partSize: values['part-size'] as string | undefined, queueSize }), { flags: { partSize: '--part-size' } })
          // An abort destroys the writer, which aborts its multipart upload.
          await pipeline(fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), writer, { signal }).catch((err: unknown) => {
            throw signal.aborted ? abortReason(signal) : err
          })
          const size = before.size
          const stored = await store.stat(key)
          if (stored.size !== size) throw new StoreError('verify', store.url, 'upload', key, `stored ${plural(stored.size, 'byte')} of ${size}`)
          const etag = writer.result?.etag ?? stored.etag
          if (values['delete-local'] === true) {
            await keepIfChanged(file, before, `${store.url}/${key}`)
            await fs.promises.unlink(file)
          }
          io.stdout.write(`${oneLine(file)}\t${oneLine(`${store.url}/${key}`)}\t${plural(size, 'byte')}\t${etag}\n`)
          done++
        }
      })
      uploaded = true
    } catch (err) {
      // Interrupted: say what stays (the files listed on stdout); the file under way left nothing behind.
      if (err instanceof ShoeboxError && err.code === 'SHOEBOX_ABORTED') {
        err.message += done === 0 ? `; nothing was uploaded to ${store.url}` : `; ${plural(done, 'file')} uploaded to ${store.url} before it (listed above)`
      }
      throw err
    } finally {
      transfers.stop(uploaded)
      await store.close()
    }
    return 0
  }
}

/**
 * Each file goes to the key of its base name, so two files of one name
 * (logs/a/x.gz logs/b/x.gz) would be one object: the second upload replaced
 * the first, and with --delete-local both local copies went, the first's
 * bytes with nothing left anywhere. Refused before any upload starts.
 */
function refuseSharedKeys (files: string[]): void {
  const byKey = new Map<string, string>()
  for (const file of files) {
    const key = path.basename(file)
    const earlier = byKey.get(key)
    if (earlier !== undefined) {
      throw usage(`${earlier} and ${file} would both be uploaded as ${JSON.stringify(key)} (the second replacing the first); upload them to different --to prefixes`)
    }
    byKey.set(key, file)
  }
}

/**
 * --delete-local deletes a file only as it was uploaded: one appended to (a
 * live log) or rewritten after its bytes were read and before the unlink
 * (the store's size check passes, it was taken at the first stat) lost
 * those bytes with the file. If its size, mtime, ctime or inode moved since
 * the upload began, it is kept and the upload fails, naming it.
 */
async function keepIfChanged (file: string, before: fs.Stats, object: string): Promise<void> {
  let now: fs.Stats
  try {
    now = await fs.promises.stat(file)
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_IO', `cannot delete ${file} after its upload to ${object}: ${describeIoError(err)}`, { cause: err })
  }
  const moved: string[] = []
  if (now.ino !== before.ino) moved.push('replaced by another file')
  if (now.size !== before.size) moved.push(`size ${before.size} -> ${now.size}`)
  if (now.mtimeMs !== before.mtimeMs) moved.push('mtime moved')
  else if (now.ctimeMs !== before.ctimeMs) moved.push('ctime moved')
  if (moved.length > 0) {
    throw new ShoeboxError('SHOEBOX_IO', `${file} changed while it was uploaded (${moved.join(', ')}): ${object} holds it as it was, and the file is kept (not deleted)`)
  }
}
