/**
 * shoebox meta: an mmmeta-compatible metadir (docs: README "Metadata").
 * One file per subcommand under meta/, loaded when it runs.
 */
import { commandGroup, type SubcommandEntry } from './command-group.js'

const entries: SubcommandEntry[] = [
  // publisher side
  { name: 'generate', summary: 'ingest metadata into the meta db (one new diff file)', load: async () => (await import('./meta/generate.js')).generateCommand },
  { name: 'squash', summary: 'write the meta db history as one snapshot', load: async () => (await import('./meta/squash.js')).squashCommand },
  { name: 'dump', summary: 'print the meta db rows as CSV or NDJSON', load: async () => (await import('./meta/dump.js')).dumpCommand }
  // consumer side (update, inspect, query, get, store, push, pull) goes below, in a block of its own
]

export const metaCommand = commandGroup('meta', 'an mmmeta-compatible metadir: meta db, state db, store', entries)
