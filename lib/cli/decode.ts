/** shoebox decode: archives (files or stdin) to NDJSON on stdout. */
import { isUtf8 } from 'node:buffer'
import { Transform } from 'readable-stream'
import type { TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { gunzip } from '../compress/gzip.js'
import { decode, type DecodedCorruptInfo } from '../format/decode.js'
import { CorruptArchiveError } from '../errors.js'
import { ioError } from '../fs/io-error.js'
import type { ShoeboxRecord } from '../record.js'
import { endOnFailure, feed } from '../stream/deliver-then-fail.js'
import type { Command } from './command.js'
import { openInput } from './io.js'
import { parse } from './options.js'

const help = `Usage: shoebox decode [options] [file ...]

Reads archives (v1 and v2 records, in any mix) from the files given, or stdin
(also '-'), and writes one JSON object per record to stdout:

  {"metadata":{...},"payload":<value>}

The payload is the parsed JSON when the payload is JSON; otherwise it is a
string and "payloadEncoding" says how to read it: "utf8" (text) or "base64"
(binary).

Options:
  --payload-only    print only each payload's bytes, one per line
  --lenient         skip damaged stretches (reported on stderr) instead of failing
  -h, --help        show this help`

export const decodeCommand: Command = {
  name: 'decode',
  summary: 'archives to NDJSON on stdout',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      'payload-only': { type: 'boolean' },
      lenient: { type: 'boolean' }
    }, true)
    const inputs = positionals.length > 0 ? positionals : ['-']
    const payloadOnly = values['payload-only'] === true
    const lenient = values.lenient === true
    let damaged = 0
    for (const name of inputs) {
      const file = name === '-' ? 'stdin' : name
      const decoder = decode({ mode: lenient ? 'lenient' : 'strict', file })
      decoder.on('corrupt', (info: DecodedCorruptInfo) => {
        damaged++
        io.stderr.write(`shoebox decode: ${file}: skipped ${info.bytesSkipped} damaged bytes at byte ${info.offset} (${info.reason}: ${info.detail})\n`)
      })
      // Damage (or an input failure) fails the decoder only after every record
      // before it; that ends this file's output cleanly, and is thrown after it is written.
      const records = endOnFailure(feed(await openInput(io, name), gunzip(), decoder))
      await pipeline(records, new RecordsToNdjson(payloadOnly), io.stdout, { end: false })
      const failure = records.failure
      if (failure instanceof CorruptArchiveError && failure.file === undefined) failure.inFile(file)
      if (failure !== null) throw ioError(failure, 'cannot read', file)
    }
    io.stdout.end()
    return damaged > 0 ? 1 : 0
  }
}

/**
 * Records to NDJSON text (or raw payloads and newlines), batched: output goes
 * out in ~256 KiB chunks, or when the event loop turns, not once per record.
 */
export class RecordsToNdjson extends Transform {
  #payloadOnly: boolean
  #parts: Buffer[] = []
  #text = ''
  #size = 0
  #scheduled: ReturnType<typeof setImmediate> | null = null

  constructor (payloadOnly: boolean) {
    super({ writableObjectMode: true, readableObjectMode: false })
    this.#payloadOnly = payloadOnly
  }

  override _transform (record: ShoeboxRecord, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#payloadOnly) {
      this.#parts.push(record.payload, NEWLINE)
      this.#size += record.payload.length + 1
    } else {
      const line = recordJson(record) + '\n'
      this.#text += line
      this.#size += line.length
    }
    if (this.#size >= BATCH) this.#out()
    else this.#scheduled ??= setImmediate(() => { this.#out() })
    callback()
  }

  override _flush (callback: TransformCallback): void {
    this.#out()
    callback()
  }

  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled)
    callback(err)
  }

  #out (): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled)
    this.#scheduled = null
    if (this.destroyed || this.#size === 0) return
    this.push(this.#payloadOnly ? Buffer.concat(this.#parts, this.#size) : this.#text)
    this.#parts = []
    this.#text = ''
    this.#size = 0
  }
}

const BATCH = 256 * 1024
const NEWLINE = Buffer.from('\n')

/** One record as a JSON line; a record's position, when it has one, comes along. */
export function recordJson (record: ShoeboxRecord): string {
  const { payload, metadata, position } = record
  if (!isUtf8(payload)) {
    return JSON.stringify({ metadata, payload: payload.toString('base64'), payloadEncoding: 'base64', position })
  }
  const text = payload.toString('utf8')
  try {
    return JSON.stringify({ metadata, payload: JSON.parse(text), position })
  } catch {
    return JSON.stringify({ metadata, payload: text, payloadEncoding: 'utf8', position })
  }
}
