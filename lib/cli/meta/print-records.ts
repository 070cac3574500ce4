/** `meta get|query --records`: the archive records of state rows, printed as `shoebox read` prints records. */
import { pipeline } from 'node:stream/promises'
import { ARCHIVE_KEY, indexedRecords, type IndexedRow } from '../../meta/record-index.js'
import { RecordsToNdjson } from '../../ndjson/records-to-ndjson.js'
import type { StoreOptions } from '../../store/open-store.js'
import { checkEndpointVariable } from '../../store/s3-config.js'
import { schemeOf } from '../../store/store-url.js'
import { endOnFailure } from '../../stream/deliver-then-fail.js'
import type { Io } from '../io.js'
import { asUsage } from '../options.js'

export const recordsOptionHelp = `  --records        print the archive records of the rows instead (NDJSON, as
                   shoebox read prints them), fetched by their _archive and
                   _position (see meta index); --endpoint URL for s3:// archives`

/**
 * Print the records `rows` name, in their order; `name(i)` says how errors
 * call row i. Every record before a failure is printed, then the failure is thrown.
 */
export async function printIndexedRecords (io: Io, base: string, rows: IndexedRow[], name: (i: number) => string, storeOptions: StoreOptions): Promise<void> {
  // Rows whose archives are on S3, without --endpoint, take SHOEBOX_S3_ENDPOINT: a malformed one is a usage error
  // before any record is printed, as in every command that opens an S3 store (store-url-arg.ts), not exit 1 at the
  // first such row.
  if (storeOptions.endpoint === undefined && rows.some((row) => typeof row[ARCHIVE_KEY] === 'string' && schemeOf(row[ARCHIVE_KEY]) === 's3')) {
    asUsage(() => { checkEndpointVariable() })
  }
  const records = endOnFailure(indexedRecords(rows, { base, storeOptions, name }))
  await pipeline(records, new RecordsToNdjson({}), io.stdout)
  if (records.failure !== null) throw records.failure
}
