/**
 * shoebox/meta: an mmmeta-compatible metadir (ingestion, history, state db,
 * query API, typed store, sync). A separate entry point so that importing
 * 'shoebox' for archives does not load it (test/startup-lazy.test.ts);
 * test/index-exports.test.ts holds the exact list.
 */
export { metaIngest, type MetaIngest, type MetaIngestOptions, type MetaIngestResult, type InvalidMetadata } from './ingest.js'
export { jsonFilesSource, ndjsonSource, ndjsonFileSource, jsonArraySource, archiveMetadataSource, fileStatSource } from './sources.js'
export { withOrigin, UnreadableMetadata, type MetaOrigin } from './origin.js'
export { squashHistory, type SquashOptions, type SquashResult } from './squash.js'
export { loadHistory, historyRows, type MetaHistory, type HistoryProblem } from './history.js'
export { loadMetaConfig, type MetaConfig, type MetaType } from './config.js'
export { flattenMetadata, NumberText, type MetaRow } from './flatten.js'
export { metadir, type Metadir, type MetadirOptions, type MetadirUpdateOptions } from './metadir.js'
export type { MetaFiles, MetaFile, MetaFileStream, FindOptions, MetaRowValues } from './files.js'
export type { Filter, FilterOperators, FilterValue } from './query.js'
export type { UpdateOptions, UpdateResult, UpdateCounts, InvalidRow } from './update.js'
export type { MetaStore, StoreValueType } from './kv-store.js'
export type { ColumnType, MetaValue } from './state-db-values.js'
export { pushMetadir, pullMetadir, type SyncOptions, type SyncResult, type SyncedFile } from './sync.js'
export { recordIndexSource, indexedRecords, type RecordIndexOptions, type IndexedRow } from './record-index.js'
export { formatPosition, parsePositionText } from '../source/position-text.js'
