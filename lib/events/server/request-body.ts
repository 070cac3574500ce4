/**
 * Reading a POST body whole, with a cap: Kronos had none, so one huge
 * request could take all memory. Past `maxBytes` (by Content-Length, or
 * while reading a chunked body) the answer is 413 and the rest is not read.
 *
 * The body is read with three listeners rather than `for await` (an
 * iterator and a promise per chunk), a one-chunk body is used as it is (no
 * concat), and it is decoded to a string only when a handler asks for its
 * text: a put walks its bytes (put-body.ts) and never needs one. A put's
 * stored texts are views of the body; Node's HTTP parser hands each body
 * chunk in memory of its own (a copy, not a view of the socket's read), so
 * they pin no more than the body (test/events/server/request-body.test.ts
 * checks that this still holds). A body of several chunks is joined into
 * memory of its own too (own-memory.ts): Buffer.concat() cut one under half
 * of Buffer.poolSize from Node's shared pool, and the memtable held the
 * whole pool, and all else cut from it, for each such put until its flush.
 */
import type { IncomingMessage } from 'node:http'
import { ownJoined } from '../../own-memory.js'

/** A body read whole: its bytes, and its text decoded on first use. */
export class ReadBody {
  readonly kind = 'body'
  readonly bytes: Buffer
  #text: string | undefined

  constructor (bytes: Buffer) {
    this.bytes = bytes
  }

  get text (): string {
    return (this.#text ??= this.bytes.toString('utf8'))
  }
}

export type BodyResult = ReadBody | { kind: 'too-large' } | { kind: 'aborted' }

const TOO_LARGE = { kind: 'too-large' } as const
const ABORTED = { kind: 'aborted' } as const
const EMPTY = Buffer.alloc(0)

/**
 * `sendContinue` is called, when the client sent `Expect: 100-continue` and
 * waits for it, once a declared length under the cap lets the body be read.
 */
export async function readBody (req: IncomingMessage, maxBytes: number, sendContinue?: () => void): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) return TOO_LARGE
  if (sendContinue !== undefined && req.headers.expect?.toLowerCase() === '100-continue') sendContinue()
  return await new Promise((resolve) => {
    let first: Buffer | undefined
    let parts: Buffer[] | undefined
    let size = 0
    const done = (result: BodyResult): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onAborted)
      req.off('close', onAborted)
      resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > maxBytes) {
        // The rest is not read; the 413 goes out with Connection: close.
        done(TOO_LARGE)
        req.pause()
        return
      }
      if (first === undefined) first = chunk
      else (parts ??= [first]).push(chunk)
    }
    const onEnd = (): void => {
      done(new ReadBody(parts !== undefined ? ownJoined(parts, size) : first ?? EMPTY))
    }
    // 'close' before 'end': the client went away mid-body.
    const onAborted = (): void => { done(ABORTED) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onAborted)
    req.on('close', onAborted)
  })
}
