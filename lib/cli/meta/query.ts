/** shoebox meta query: state rows matching conditions, as NDJSON. */
import { once } from 'node:events'
import { metadir } from '../../meta/metadir.js'
import { existingMetadir } from './metadir-options.js'
import { metaJson, type MetaFiles } from '../../meta/files.js'
import type { Filter, FilterOperators, FilterValue } from '../../meta/query.js'
import { fromText } from '../../meta/state-db-values.js'
import { keyDict } from '../../key-dict.js'
import { givenValue } from '../../errors.js'
import type { Command } from '../command.js'
import { usage } from '../io.js'
import { asUsage, parse, wholeNumber } from '../options.js'
import { STORE_FLAGS, storeOptionSpec, storeOptionsFrom } from '../store-options.js'
import { printIndexedRecords, recordsOptionHelp } from './print-records.js'

const help = `Usage: shoebox meta query [CONDITION...] [options]

Prints the state rows matching every CONDITION as NDJSON (timestamps as
ISO 8601 UTC), in the order SQLite finds them unless --order. A CONDITION is KEY OP VALUE with OP one
of = != < <= > >= ~ (~ is SQL LIKE: % any text, _ one character), e.g.
document_type=contract 'retrieved_at>=2026-11-01' 'title~%Vertrag%'. VALUE is
read as the column's type (imported=false also matches rows never imported).
Soft-deleted rows are left out unless --deleted. A KEY that is no column of
the state db is an error (a consumer column no row has yet is one once
config.yml's metadata.types names it).

Options:
  --metadir DIR    the base directory holding _mmmeta/ (default $MMMETA, else the current directory)
  --null KEY       KEY is empty (repeatable)
  --not-null KEY   KEY has a value (repeatable)
  --deleted        include soft-deleted rows
  --limit N        at most N rows
  --order KEY      sorted by KEY
  --count          print only the number of matching rows
${recordsOptionHelp}
  -h, --help       show this help`

const CONDITION = /^([^=!<>~]+)(!=|<=|>=|=|<|>|~)(.*)$/s
const OPS: Record<string, keyof FilterOperators> = { '=': 'eq', '!=': 'ne', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte', '~': 'like' }

/**
 * CLI conditions to a filter, each value read by its column's type. A key
 * that is no column is refused, as --order's is: the API reads it as NULL in
 * every row (a consumer column not saved yet), so a mistyped key matched no
 * row, or with --null every row, without a word and exit 0.
 */
export function filterFrom (files: MetaFiles, conditions: string[], isNull: string[], notNull: string[]): Filter {
  const filter: Record<string, FilterOperators> = keyDict()
  const add = (key: string, op: keyof FilterOperators, value: unknown): void => {
    if (!files.state.has(key)) throw usage(`no column '${key}' in ${files.state.file} (a column no row has yet can be named in config.yml's metadata.types)`)
    const ops = filter[key] ?? (filter[key] = {})
    if (op in ops) throw usage(`two '${op}' conditions on ${key}`)
    ;(ops as Record<string, unknown>)[op] = value
  }
  for (const text of conditions) {
    const m = CONDITION.exec(text)
    if (m === null) throw usage(`a condition must be KEY OP VALUE (OP one of = != < <= > >= ~), got ${givenValue(text)}`)
    const [, key, op, raw] = m
    if (op === '~') {
      add(key, 'like', raw)
      continue
    }
    const type = files.state.typeOf(key)
    const cast = fromText(type, raw)
    if (!cast.ok) throw usage(`${text}: ${cast.reason} (${key} is ${type})`)
    // A timestamp as its text, which the column's encoding keeps to the microsecond: its Date holds milliseconds,
    // so '<2026-11-22T12:17:55.295841' was '< .295000' and missed the row stored at .295840.
    add(key, OPS[op], type === 'timestamp' && cast.value !== null ? raw : cast.value as FilterValue)
  }
  for (const key of isNull) add(key, 'isNull', true)
  for (const key of notNull) add(key, 'isNull', false)
  return filter
}

export const queryCommand: Command = {
  name: 'query',
  summary: 'state rows matching conditions, as NDJSON',
  flags: STORE_FLAGS,
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      metadir: { type: 'string' },
      null: { type: 'string', multiple: true },
      'not-null': { type: 'string', multiple: true },
      deleted: { type: 'boolean' },
      limit: { type: 'string' },
      order: { type: 'string' },
      count: { type: 'boolean' },
      records: { type: 'boolean' },
      ...storeOptionSpec
    }, true)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (values.records === true && values.count === true) throw usage('--records and --count: choose one')
    const limit = wholeNumber('--limit', values.limit)
    const md = await metadir(await existingMetadir(values.metadir as string | undefined))
    try {
      const filter = filterFrom(md.files, positionals, (values.null ?? []) as string[], (values['not-null'] ?? []) as string[])
      const deleted = values.deleted === true
      if (values.count === true) {
        io.stdout.write(`${md.files.count(filter, { deleted })}\n`)
        return 0
      }
      const find = asUsage(() => md.files.find(filter, { deleted, limit, orderBy: values.order as string | undefined }), { flags: { orderBy: '--order' } })
      if (values.records === true) {
        // The rows first (the state db is not held open while archives are read), then their records.
        const rows: Array<Record<string, unknown>> = []
        for await (const file of find) rows.push(file.data)
        const unique = md.config.unique
        md.close()
        await printIndexedRecords(io, md.base, rows, (i) => `${unique} ${String(rows[i][unique])}`, storeOptions)
        return 0
      }
      let batch = ''
      for await (const file of find) {
        batch += metaJson(file) + '\n'
        if (batch.length > 65536) {
          if (!io.stdout.write(batch)) {
            // A stdout that failed (a full disk) never drains: its error ends the query (main names stdout);
            // waiting on 'drain' alone left the process to end with nothing pending, exit 0, the output cut.
            if (io.stdout.errored !== null) throw io.stdout.errored
            await once(io.stdout, 'drain')
          }
          batch = ''
        }
      }
      if (batch !== '') io.stdout.write(batch)
    } finally {
      md.close()
    }
    return 0
  }
}

