/**
 * POST /1.0/events/delete (spec §5.4): removes the range's events from the
 * stored data and answers with the count, in Kronos's shape. A start after
 * the end deletes nothing and succeeds (Kronos answered a TypeError).
 */
import type { ServerResponse } from 'node:http'
import { sendJson } from './envelope.js'
import { storageError } from './kronos-errors.js'
import { bodyObject, namespaceParam, rangeParams, streamParam } from './request-params.js'
import type { ServerContext } from './server-context.js'

export async function handleDelete (ctx: ServerContext, text: string, res: ServerResponse, started: bigint): Promise<void> {
  const body = bodyObject(text)
  // Kronos's answer to a bad stream name here has `@errors` and `@took`, but no `@success`.
  const stream = streamParam(body, { noSuccess: true })
  const range = rangeParams(body)
  const ns = namespaceParam(body, ctx.namespaces, ctx.defaultNamespace)
  let entry: Record<string, unknown>
  let success = true
  try {
    entry = { num_deleted: await ctx.store.delete(ns, stream, range) }
  } catch (err) {
    success = false
    entry = { num_deleted: -1, '@errors': [storageError(err)] }
  }
  sendJson(res, 200, { [stream]: { [ctx.backend]: entry }, '@success': success }, started)
}
