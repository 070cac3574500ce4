/**
 * infer_schema's type lattice (spec §5.6): a JSON value's type, combining
 * two types, and the JSON Schema text Kronos emits (with its non-standard
 * "any"). Integer vs Number is decided by the number's text (`2` vs `2.0`),
 * which is why events are parsed lexically here.
 *
 * One deliberate difference: Kronos's X.combine(Null) is Any for any X but
 * Null, so a field that is null in an older event and a string in a newer
 * one came out "string", the other way round "any". Here Null is neutral on
 * both sides (X.combine(Null) = X), so the schema does not depend on the
 * order of the sampled events: a field sometimes null gets its other type.
 */
import { JsonNumber, type LexicalJsonValue } from '../event-text.js'

export type SchemaType =
  | { kind: 'null' | 'string' | 'integer' | 'number' | 'boolean' | 'any' }
  | { kind: 'array', items: SchemaType }
  | { kind: 'object', properties: Map<string, SchemaType>, required: string[] }

export const NULL_TYPE: SchemaType = { kind: 'null' }
const ANY: SchemaType = { kind: 'any' }

export function typeOf (value: LexicalJsonValue): SchemaType {
  if (value === null) return NULL_TYPE
  if (typeof value === 'string') return { kind: 'string' }
  if (typeof value === 'boolean') return { kind: 'boolean' }
  if (value instanceof JsonNumber) return { kind: value.isInteger ? 'integer' : 'number' }
  if (Array.isArray(value)) return { kind: 'array', items: value.reduce<SchemaType>((acc, v) => combine(acc, typeOf(v)), NULL_TYPE) }
  const properties = new Map<string, SchemaType>()
  for (const [k, v] of Object.entries(value)) properties.set(k, typeOf(v))
  // One event's required list is in its key order, unsorted, as Kronos's.
  return { kind: 'object', properties, required: [...properties.keys()] }
}

export function combine (a: SchemaType, b: SchemaType): SchemaType {
  if (a.kind === 'null') return b
  if (b.kind === 'null') return a
  if (a.kind === 'any') return ANY
  if ((a.kind === 'integer' && b.kind === 'number') || (a.kind === 'number' && b.kind === 'integer')) return { kind: 'number' }
  if (a.kind !== b.kind) return ANY
  if (a.kind === 'array' && b.kind === 'array') return { kind: 'array', items: combine(a.items, b.items) }
  if (a.kind === 'object' && b.kind === 'object') {
    const properties = new Map<string, SchemaType>()
    for (const key of new Set([...a.properties.keys(), ...b.properties.keys()])) {
      let t = NULL_TYPE
      const x = a.properties.get(key)
      const y = b.properties.get(key)
      if (x !== undefined) t = combine(t, x)
      if (y !== undefined) t = combine(t, y)
      properties.set(key, t)
    }
    // A Set, not b.required.includes(): that was quadratic (0.8 s of CPU to combine two
    // 40,000-key types), and infer_schema's 99 combines held the event loop, every client, as long.
    const inB = new Set(b.required)
    const required = a.required.filter((k) => inB.has(k)).sort()
    return { kind: 'object', properties, required }
  }
  return a
}

export function schemaJson (t: SchemaType): Record<string, unknown> {
  if (t.kind === 'array') return { type: 'array', items: schemaJson(t.items) }
  if (t.kind === 'object') {
    return { type: 'object', properties: Object.fromEntries([...t.properties].map(([k, v]) => [k, schemaJson(v)])), required: t.required }
  }
  return { type: t.kind }
}

export const SCHEMA_URI = 'http://json-schema.org/draft-04/schema'
