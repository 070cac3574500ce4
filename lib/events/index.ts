/**
 * shoebox/events: Kronos-protocol events (time, ids, stamping, the client).
 * A separate entry point so that importing 'shoebox' for archives does not
 * load them (test/startup-lazy.test.ts); test/index-exports.test.ts holds
 * the exact list, and the README's API section documents it.
 */
export {
  kronosTimeNow, kronosTimeFromDate, kronosTimeFromIso, kronosTimeFromMs, kronosTimeFromSeconds, kronosTimeToDate, kronosTimeToIso,
  kronosTimeToMs, toKronosTime, parseKronosTime, formatKronosTime, MIN_KRONOS_TIME, MAX_KRONOS_TIME, type KronosTime
} from './kronos-time.js'
export {
  newEventId, parseEventId, formatEventId, isEventId, eventIdTime, compareEventIds, eventIdSortKey, lowestEventId, highestEventId
} from './event-id.js'
export { isValidStreamName } from './stream-name.js'
export { parseEvent, stringifyEvent, type JsonValue, type EventObject } from './event-text.js'
export {
  stamp, stampNdjson, type StampStream, type StampOptions, type StampNdjsonOptions, type StampedEventRecord, type InvalidEventInfo, type TimeValue
} from './stamp.js'
export {
  kronos, type KronosClient, type KronosClientOptions, type KronosGetOptions, type KronosDeleteOptions, type KronosAnswer, type TimeInput
} from './client.js'
export type { KronosGetStream } from './client-get.js'
export { KronosError } from './client-request.js'
export {
  ship, type Shipper, type ShipOptions, type ShipItem, type ShipStats, type ShipEventCounts, type OverflowPolicy, type Library
} from './ship.js'
export { logScope, logFunction, type LogOptions, type ScopeOptions, type ExceptionInfo } from './log-scope.js'
export { logRequests, type RequestLogOptions, type Middleware, type Handler, type Next } from './log-middleware.js'
export { serveEvents, type EventServer, type ServeEventsOptions, type ServingMode } from './serve.js'
