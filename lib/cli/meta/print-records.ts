/** `meta get|query --records`: the archive records of state rows, printed as `shoebox read` prints records. */
import { pipeline } from 'node:stream/promises'
import { indexedRecords, type IndexedRow } from '../../meta/record-index.js'
import { RecordsToNdjson } from '../../ndjson/records-to-ndjson.js'
import type { StoreOptions } from '../../store/open-store.js'
import { endOnFailure } from '../../stream/deliver-then-fail.js'
import type { Io } from '../io.js'

export const recordsOptionHelp = `  --records        print the archive records of the rows instead (NDJSON, as
                   shoebox read prints them), fetched by their _archive and
                   _position (see meta index); --endpoint URL for s3:// archives`

/**
 * Print the records `rows` name, in their order; `name(i)` says how errors
 * call row i. Every record before a failure is printed, then the failure is thrown.
 */
export async function printIndexedRecords (io: Io, base: string, rows: IndexedRow[], name: (i: number) => string, storeOptions: StoreOptions): Promise<void> {
  const records = endOnFailure(indexedRecords(rows, { base, storeOptions, name }))
  await pipeline(records, new RecordsToNdjson({}), io.stdout)
  if (records.failure !== null) throw records.failure
}
