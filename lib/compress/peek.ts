/**
 * peekHead(): the first bytes of a stream, put back: a reader learns a
 * file's codec from its magic bytes without a second request (a ranged GET
 * on S3) and without consuming what the decompressor must see.
 */
import { Readable } from 'node:stream'

export interface Peeked {
  /** At least the bytes asked for, fewer only if the input is shorter. */
  head: Buffer
  /** The whole input, those bytes included: `input` itself, or (had it already ended) a stream of them. */
  stream: Readable
}

/**
 * At least `n` bytes from the start of `input` (fewer only if it ends first),
 * left unread. `input` must not be flowing yet (no 'data' listener): its
 * bytes would reach that listener now and again after being put back.
 */
export async function peekHead (input: Readable, n: number): Promise<Peeked> {
  if (input.listenerCount('data') > 0) throw new Error('peekHead: the stream already has a data listener')
  const chunks: Buffer[] = []
  let size = 0
  while (size < n) {
    const chunk = input.read() as Buffer | null
    if (chunk !== null) {
      chunks.push(chunk)
      size += chunk.length
      continue
    }
    if (input.readableEnded || input.destroyed) break
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        input.off('readable', onReadable)
        input.off('end', onEnd)
        input.off('error', done)
        input.off('close', onEnd)
        if (err !== undefined) reject(err)
        else resolve()
      }
      const onReadable = (): void => { done() }
      const onEnd = (): void => { done() }
      input.on('readable', onReadable)
      input.on('end', onEnd)
      input.on('close', onEnd)
      input.on('error', done)
    })
  }
  const head = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
  // A stream that has ended takes nothing back: a short input is handed on whole instead.
  if (input.readableEnded) return { head, stream: Readable.from(head.length > 0 ? [head] : []) }
  if (head.length > 0) input.unshift(head)
  return { head, stream: input }
}
