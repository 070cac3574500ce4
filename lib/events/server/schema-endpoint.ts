/**
 * POST /1.0/streams/infer_schema (spec §5.6): the JSON Schema of the 100
 * most recent events dated in [0, now], folded newest first through the
 * type lattice (schema-lattice.ts).
 */
import type { ServerResponse } from 'node:http'
import { parseJsonLexical } from '../event-text.js'
import { kronosTimeNow } from '../kronos-time.js'
import { sendJson } from './envelope.js'
import { keyError } from './kronos-errors.js'
import { BadRequest, bodyObject, namespaceParam, pythonFalsy, streamParam } from './request-params.js'
import { combine, NULL_TYPE, SCHEMA_URI, schemaJson, typeOf } from './schema-lattice.js'
import type { ServerContext } from './server-context.js'

export const SCHEMA_SAMPLE = 100

export async function handleInferSchema (ctx: ServerContext, text: string, res: ServerResponse, started: bigint): Promise<void> {
  const body = bodyObject(text)
  if (!Object.hasOwn(body, 'stream')) throw new BadRequest([keyError('stream')])
  const stream = streamParam(body, {})
  // Kronos reads this namespace with Python's `or` (spec §5.6): "" (or 0, false, [], {}) is the default here, as
  // null is everywhere; the other endpoints refuse "" as Kronos does (NamespaceMissing).
  const ns = namespaceParam(pythonFalsy(body.namespace) ? { namespace: null } : body, ctx.namespaces, ctx.defaultNamespace)
  let acc = NULL_TYPE
  for await (const e of ctx.store.read(ns, stream, { from: 0n, to: kronosTimeNow() }, { descending: true, limit: SCHEMA_SAMPLE })) {
    acc = combine(acc, typeOf(parseJsonLexical(e.body.toString('utf8'))))
  }
  const schema = { ...schemaJson(acc), $schema: SCHEMA_URI }
  sendJson(res, 200, { stream, namespace: ns, schema, '@success': true }, started)
}
