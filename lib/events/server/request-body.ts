/**
 * Reading a POST body whole, with a cap: Kronos had none, so one huge
 * request could take all memory. Past `maxBytes` (by Content-Length, or
 * while reading a chunked body) the answer is 413 and the rest is not read.
 */
import type { IncomingMessage } from 'node:http'

/** A body read whole: its text, and its bytes (a put's events can be views of them). */
export type BodyResult = { kind: 'body', text: string, bytes: Buffer } | { kind: 'too-large' } | { kind: 'aborted' }

export async function readBody (req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) return { kind: 'too-large' }
  const parts: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > maxBytes) return { kind: 'too-large' }
      parts.push(chunk as Buffer)
    }
  } catch {
    return { kind: 'aborted' }
  }
  const bytes = Buffer.concat(parts, size)
  return { kind: 'body', text: bytes.toString('utf8'), bytes }
}
