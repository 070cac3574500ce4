/**
 * POST /1.0/streams (spec §5.5): the namespace's stream names, one per line
 * with CRLF. A stream is listed once something was put to it (reading a
 * stream no longer creates it, as Kronos's memory backend did), and stays
 * listed after its events are deleted, as in Kronos. Names are sorted.
 */
import type { ServerResponse } from 'node:http'
import { streamLines } from './get-endpoint.js'
import { bodyObject, namespaceParam } from './request-params.js'
import type { ServerContext } from './server-context.js'

export async function handleStreams (ctx: ServerContext, text: string, res: ServerResponse, started: bigint): Promise<void> {
  const body = bodyObject(text)
  const ns = namespaceParam(body, ctx.namespaces, ctx.defaultNamespace)
  const names = ctx.store.streams(ns)
  res.statusCode = 200
  res.setHeader('Content-Type', 'application/json')
  await streamLines(res, ctx, (async function * () {
    yield names.map((name) => Buffer.from(name))
  })(), started)
}
