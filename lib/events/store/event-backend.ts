/**
 * What the HTTP endpoints need from storage: the local EventStore
 * (event-store.ts) or, for `readonly` servers over a shared store, the
 * runs every collector published (remote-runs.ts).
 */
import type { PutBatch } from './put-rows.js'
import type { EventRange, StoredEvent } from './stored-event.js'

export interface ReadOptions {
  descending?: boolean
  limit?: number
}

export interface EventBackend {
  put (ns: string, batches: readonly PutBatch[]): Promise<void>
  /** Events in the range, in order, in batches; the snapshot is taken when called. */
  readBatches (ns: string, stream: string, range: EventRange, options?: ReadOptions): AsyncGenerator<StoredEvent[]>
  /** The texts of readBatches()'s events, as a get sends them; the snapshot is taken when called. */
  readLines (ns: string, stream: string, range: EventRange, options?: ReadOptions): AsyncGenerator<Buffer[]>
  read (ns: string, stream: string, range: EventRange, options?: ReadOptions): AsyncGenerator<StoredEvent>
  delete (ns: string, stream: string, range: EventRange): Promise<number>
  streams (ns: string): string[]
  close (): Promise<void>
}
