/** shoebox events get|delete|streams|schema URL ...: a Kronos client on the command line (each subcommand loaded when it runs). */
import { commandGroup } from './command-group.js'

export const eventsCommand = commandGroup('events', 'read, delete and describe events on a Kronos server (shoebox serve or Kronos)', [
  { name: 'get', summary: 'a time range of a stream, as NDJSON', load: async () => (await import('./events/get.js')).getCommand },
  { name: 'delete', summary: 'delete a time range of a stream', load: async () => (await import('./events/delete.js')).deleteCommand },
  { name: 'streams', summary: 'the stream names of a namespace', load: async () => (await import('./events/streams.js')).streamsCommand },
  { name: 'schema', summary: 'the JSON schema inferred from a stream', load: async () => (await import('./events/schema.js')).schemaCommand }
])
