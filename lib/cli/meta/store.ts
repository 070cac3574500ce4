/** shoebox meta store: the metadir's typed key-value store. */
import { ShoeboxError } from '../../errors.js'
import { metadir } from '../../meta/metadir.js'
import { existingMetadir } from './metadir-options.js'
import { metaJson } from '../../meta/files.js'
import { type MetaStore, STORE_LAST_UPDATED } from '../../meta/kv-store.js'
import { COLUMN_TYPES, type ColumnType, exactSqlTimestamp, fromText, sqlTimestamp, type MetaValue } from '../../meta/state-db-values.js'
import type { Command } from '../command.js'
import { usage } from '../io.js'
import { oneOf, parse } from '../options.js'
import { oneLine } from '../one-line.js'

const help = `Usage: shoebox meta store [KEY [VALUE]] [options]
       shoebox meta store list | get KEY | set KEY VALUE | touch KEY | delete KEY

The key-value store in _mmmeta/_store/ (one file per key, readable by
mmmeta). Without KEY (or list): every entry as 'key: value'. With KEY (or
get KEY): its value (an error, exit 1, if there is none). With KEY VALUE (or
set KEY VALUE): sets it, read as --type, and touches ${STORE_LAST_UPDATED}.
A first word list, get, set, touch or delete is the action, never a key
('get get' reads a key named get). Values come back with the type they were
written with; keys mmmeta wrote read as strings unless --type says.
Timestamps are UTC.

Options:
  --metadir DIR   the base directory holding _mmmeta/ (default $MMMETA, else the current directory)
  --type TYPE     ${COLUMN_TYPES.join(', ')} (default string)
  --touch         set KEY to the time now (UTC)
  --delete        remove KEY
  --json          values as JSON (a listing as one object)
  -h, --help      show this help`

function text (value: MetaValue): string {
  if (value instanceof Date) return sqlTimestamp(value)
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)
}

/** `key`'s value as printed: a timestamp as its stored text says, to the microsecond (its Date holds milliseconds), as mmmeta prints it. */
export async function storeValueText (store: MetaStore, key: string, value: MetaValue): Promise<string> {
  if (!(value instanceof Date)) return text(value)
  const stored = await store.textOf(key)
  return (stored === undefined ? null : exactSqlTimestamp(stored)) ?? sqlTimestamp(value)
}

/** The words the summary names, as actions: `store get KEY` read KEY (it set a key named get, silently). */
const ACTIONS: Record<string, { args: number, form: string }> = {
  list: { args: 0, form: 'list' },
  get: { args: 1, form: 'get KEY' },
  set: { args: 2, form: 'set KEY VALUE' },
  touch: { args: 1, form: 'touch KEY' },
  delete: { args: 1, form: 'delete KEY' }
}

/** KEY and VALUE, and which action, from either form (see the help). */
function storeArgs (positionals: string[], touchFlag: boolean, deleteFlag: boolean): { key?: string, raw?: string, touch: boolean, remove: boolean } {
  const action = Object.hasOwn(ACTIONS, positionals[0] ?? '') ? positionals[0] : undefined
  if (action !== undefined) {
    const { args, form } = ACTIONS[action]
    if (positionals.length !== args + 1) throw usage(`${form}: expected ${args === 0 ? 'nothing' : form.slice(action.length + 1)} after ${action}`)
    if (touchFlag || deleteFlag) throw usage(`${action} takes no --touch or --delete`)
    return { key: positionals[1], raw: positionals[2], touch: action === 'touch', remove: action === 'delete' }
  }
  if (positionals.length > 2) throw usage('takes at most KEY and VALUE')
  const [key, raw] = positionals
  if ((touchFlag || deleteFlag) && (key === undefined || raw !== undefined)) throw usage('--touch and --delete take exactly one KEY')
  return { key, raw, touch: touchFlag, remove: deleteFlag }
}

export const storeCommand: Command = {
  name: 'store',
  summary: 'list, get, set, touch or delete store keys',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      metadir: { type: 'string' }, type: { type: 'string' }, touch: { type: 'boolean' }, delete: { type: 'boolean' }, json: { type: 'boolean' }
    }, true)
    const { key, raw, touch, remove } = storeArgs(positionals, values.touch === true, values.delete === true)
    const type = values.type === undefined ? undefined : oneOf<ColumnType>('--type', values.type, COLUMN_TYPES, 'string')
    const json = values.json === true
    const md = await metadir(await existingMetadir(values.metadir as string | undefined))
    try {
      const store = md.store
      if (key === undefined) {
        const entries = await store.entries()
        if (json) io.stdout.write(metaJson(Object.fromEntries(entries)) + '\n')
        else for (const [k, v] of entries) io.stdout.write(`${oneLine(k)}: ${await storeValueText(store, k, v)}\n`)
      } else if (remove) {
        await store.delete(key)
      } else if (touch) {
        const at = await store.touch(key)
        io.stdout.write(json ? metaJson(at) + '\n' : `${text(at)}\n`)
      } else if (raw !== undefined) {
        const as = type ?? 'string'
        const cast = fromText(as, raw)
        if (!cast.ok || cast.value === null) throw usage(`${key}: ${cast.ok ? 'an empty value is no ' + as : cast.reason} (${as})`)
        // a timestamp as its text: a Date would drop its microseconds
        await store.set(key, as === 'timestamp' ? raw : cast.value, as)
      } else {
        const value = await store.get(key, type)
        if (value === undefined) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `no store key ${key} in ${md.path}`)
        io.stdout.write(json ? metaJson(value) + '\n' : `${await storeValueText(store, key, value)}\n`)
      }
    } finally {
      md.close()
    }
    return 0
  }
}
