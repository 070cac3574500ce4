/**
 * shoebox meta: an mmmeta-compatible metadir (docs: README "Metadata").
 * One file per subcommand under meta/, loaded when it runs.
 */
import { commandGroup, type SubcommandEntry } from './command-group.js'

// The publisher's subcommands (the meta db history).
const publisher: SubcommandEntry[] = [
  { name: 'generate', summary: 'ingest metadata into the meta db (one new diff file)', load: async () => (await import('./meta/generate.js')).generateCommand },
  { name: 'squash', summary: 'write the meta db history as one snapshot', load: async () => (await import('./meta/squash.js')).squashCommand },
  { name: 'dump', summary: 'print the meta db rows as CSV or NDJSON', load: async () => (await import('./meta/dump.js')).dumpCommand },
  { name: 'index', summary: 'index the records of archives (metadata + position) into the meta db', load: async () => (await import('./meta/index-command.js')).indexCommand }
]

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

export const metaCommand = commandGroup('meta', 'an mmmeta-compatible metadir: meta db history, state db, typed store', [...publisher, ...consumer])
