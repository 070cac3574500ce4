/** shoebox meta: the mmmeta-compatible metadir, one file per subcommand in lib/cli/meta/. */
import { commandGroup, type SubcommandEntry } from './command-group.js'

// The consumer's subcommands (state db, store, sync).
const consumer: SubcommandEntry[] = [
  { name: 'update', summary: 'merge the meta history into the state db', load: async () => (await import('./meta/update.js')).updateCommand },
  { name: 'inspect', summary: 'row count, path and store entries', load: async () => (await import('./meta/inspect.js')).inspectCommand },
  { name: 'query', summary: 'state rows matching conditions, as NDJSON', load: async () => (await import('./meta/query.js')).queryCommand },
  { name: 'get', summary: 'state rows by unique key, as JSON', load: async () => (await import('./meta/get.js')).getCommand },
  { name: 'store', summary: 'get, set, touch, delete or list store keys', load: async () => (await import('./meta/store.js')).storeCommand },
  { name: 'push', summary: 'copy the metadir to a store (file://, s3://)', load: async () => (await import('./meta/push.js')).pushCommand },
  { name: 'pull', summary: 'copy a metadir from a store (file://, s3://)', load: async () => (await import('./meta/pull.js')).pullCommand }
]

export const metaCommand = commandGroup('meta', 'an mmmeta-compatible metadir: meta db history, state db, typed store', [...consumer])
