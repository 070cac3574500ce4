/**
 * A read of one object that survives broken connections: when the body
 * stream fails part-way, the read is opened again at the first byte not yet
 * handed on (a ranged GET pinned to the same version), so the consumer sees
 * one unbroken stream, with nothing repeated and nothing skipped.
 */
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelay } from '../transfer/retry.js'
import { classify, type FailureKind } from './store-error.js'

export interface OpenedRange {
  body: AsyncIterable<Uint8Array>
  /** The version read, so a resumed read can insist on the same one. */
  etag: string | undefined
  /** Bytes the body should carry, when the server said. */
  length: number | undefined
}

/**
 * Open bytes [start, end) (end undefined: to the object's end), pinned to
 * `etag` when given; `signal` aborts the request (and its body) once the
 * stream is destroyed.
 */
export type OpenRange = (start: number, end: number | undefined, etag: string | undefined, signal: AbortSignal) => Promise<OpenedRange>

export interface ResumableReadOptions {
  start?: number
  end?: number
  etag?: string
  /** Consecutive resumes without progress before giving up. Default 5. */
  retries?: number
  /** Delay before resume n (1-based), ms. Default jittered 100 ms x 2^(n-1), at most 5 s. */
  backoff?: (attempt: number) => number
  onResume?: (offset: number, kind: FailureKind) => void
  /**
   * Told of each chunk as it is handed to the stream (its buffer holds up to
   * a MiB ahead of the reader): one fetched after the stream was destroyed
   * is not. What its buffer holds when it is destroyed is the reader's
   * `readableLength` then: never taken.
   */
  onBytes?: (bytes: number) => void
}

/** Failures of a body in flight worth a resume; anything else (a changed object, a refusal) is final. */
const RESUMABLE = new Set<FailureKind>(['network', 'server', 'throttled', 'unreachable', 'other'])

function defaultBackoff (attempt: number): number {
  return backoffDelay(attempt, 100, 5000)
}

class ShortBodyError extends Error {
  override name = 'ShortBody'
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE'
}

export function resumableRead (open: OpenRange, options: ResumableReadOptions = {}): Readable {
  const retries = options.retries ?? 5
  const backoff = options.backoff ?? defaultBackoff
  // A stream destroyed while its request waits for an answer (a read ahead, then dropped) cuts the request: it held
  // a socket, and the process, until the server answered.
  const dropped = new AbortController()
  async function * chunks (): AsyncGenerator<Buffer> {
    let offset = options.start ?? 0
    let etag = options.etag
    let failures = 0
    for (;;) {
      if (options.end !== undefined && offset >= options.end) break
      // Opening is retried by the client itself; a failure here is final.
      const opened = await open(offset, options.end, etag, dropped.signal)
      etag ??= opened.etag
      const expectedEnd = opened.length === undefined ? undefined : offset + opened.length
      try {
        for await (const chunk of opened.body) {
          // Its reader went away: nothing more is handed on, nor counted (the body is closed by the return).
          if (out.destroyed) return
          const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
          offset += buffer.length
          failures = 0
          options.onBytes?.(buffer.length)
          yield buffer
        }
        if (expectedEnd !== undefined && offset < expectedEnd) throw new ShortBodyError(`body ended at byte ${offset} of ${expectedEnd}`)
        break
      } catch (err) {
        // Its reader went away while the next chunk was awaited: the drop cut the body, not the network. Counted as
        // a retry (ls stopped by a zstd frame over --max-frame-size said "1 retry"), it waited a backoff and asked again.
        if (out.destroyed || dropped.signal.aborted) return
        const kind = classify(err)
        if (!RESUMABLE.has(kind) || ++failures > retries) throw err
        options.onResume?.(offset, kind)
        await sleep(backoff(failures))
      }
    }
  }
  // Readable.from(chunks()) but for its destroy, which waited for the chunk being fetched (its request answered)
  // before the stream closed: here the request is cut first.
  const iterator = chunks()
  let pumping = false
  const out = new Readable({
    highWaterMark: 1024 * 1024,
    read () {
      if (pumping) return
      pumping = true
      pump().finally(() => { pumping = false })
    },
    destroy (err, callback) {
      dropped.abort()
      iterator.return(undefined).then(() => { callback(err) }, () => { callback(err) })
    }
  })
  /** Chunks into `out` until its buffer is full, the body ends or it fails. */
  async function pump (): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await iterator.next()
        if (done === true) {
          out.push(null)
          return
        }
        if (!out.push(value)) return
      }
    } catch (err) {
      out.destroy(err as Error)
    }
  }
  return out
}
