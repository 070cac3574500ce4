/**
 * POST /1.0/events/get (spec §5.3): the stream's events in the range, one
 * JSON text per line, each line ending in CRLF, sent in chunks of at least
 * `flushSize` bytes that always end between events. Every bad parameter is
 * a 400 JSON answer before the first byte of the body (Kronos crashed into a
 * 500 for a missing end_time or an unknown namespace); a storage failure
 * after the body has started cuts the connection, so a client sees a broken
 * response (and resumes after its last @id), never a silently short one; so
 * does a client that takes nothing for `sendTimeout` (send-timeout.ts).
 */
import type { ServerResponse } from 'node:http'
import { BadRequest, bodyObject, long, namespaceParam, rangeParams, streamParam } from './request-params.js'
import type { ServerContext } from './server-context.js'
import { sent } from './send-timeout.js'
import { sendJson, failure } from './envelope.js'
import { storageError } from './kronos-errors.js'

/** Kronos's MAX_LIMIT, the default limit. */
export const MAX_LIMIT = 2 ** 31 - 1

const CRLF = Buffer.from('\r\n')

export async function handleGet (ctx: ServerContext, text: string, res: ServerResponse, started: bigint): Promise<void> {
  const body = bodyObject(text)
  const stream = streamParam(body, { noTook: true })
  const ns = namespaceParam(body, ctx.namespaces, ctx.defaultNamespace)
  const range = rangeParams(body)
  const limit = body.limit === undefined ? BigInt(MAX_LIMIT) : long('int', body.limit)
  const descending = body.order === 'descending'
  const lines = ctx.store.readLines(ns, stream, range, { descending, limit: limit > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(limit) })
  res.statusCode = 200
  res.setHeader('Content-Type', 'application/json')
  await streamLines(res, ctx, lines, started)
}

/**
 * Write `lines` (in batches) with CRLF after each, in chunks of at least
 * `flushSize`, waiting for the socket to drain. A client that goes away,
 * or takes nothing for `sendTimeoutMs`, stops the read (the source's
 * finally releases its files).
 */
export async function streamLines (res: ServerResponse, send: Pick<ServerContext, 'flushSize' | 'sendTimeoutMs'>, batches: AsyncGenerator<Buffer[]>, started: bigint): Promise<void> {
  const { flushSize, sendTimeoutMs } = send
  let parts: Buffer[] = []
  let size = 0
  try {
    for await (const lines of batches) {
      for (const line of lines) {
        parts.push(line, CRLF)
        size += line.length + 2
        if (size >= flushSize) {
          const chunk = Buffer.concat(parts, size)
          parts = []
          size = 0
          if (!res.write(chunk) && !await sent(res, 'drain', sendTimeoutMs)) return
        }
      }
      if (res.destroyed) return
    }
  } catch (err) {
    if (!res.headersSent) {
      res.removeHeader('Content-Type')
      sendJson(res, 500, failure([storageError(err)]), started)
    } else {
      res.destroy(err as Error)
    }
    return
  }
  res.end(size > 0 ? Buffer.concat(parts, size) : undefined)
  // The last chunk too: a client that stops reading just before it would hold the connection.
  await sent(res, 'finish', sendTimeoutMs)
}

export { BadRequest }
