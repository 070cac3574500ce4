/**
 * shoebox: stream-first archiving. The public API, nothing else: the
 * factories and functions the README's API section documents, the classes a
 * user constructs or catches (ArchiveEncoder, ArchiveDecoder, SealedUploader,
 * the errors), and types. Streams a factory creates (EncodeStream,
 * RollingSink, ArchiveSource...) are exported as types only, so users can
 * name them without constructing them; store classes (S3Store, FileStore)
 * too, reached through openStore(). test/index-exports.test.ts holds the exact list.
 */
import type { PackOptions, PackSummary } from './pack/pack.js'
import type { UnpackOptions, UnpackSummary } from './pack/unpack.js'
import type { RecoveredFile, RecoverOptions } from './roll/recover.js'
import { rollingSink as makeRollingSink, type RollingSink, type RollingSinkOptions } from './roll/rolling-sink.js'
import { openStore } from './store/open-store.js'
import { SealedUploader } from './roll/uploader.js'

export { encode, type EncodeStream, type EncodeOptions } from './format/encode.js'
export { decode, type DecodeStream, type DecodeOptions, type DecodedCorruptInfo } from './format/decode.js'
export { ArchiveEncoder, encodeRecords, type EncoderOptions, type FormatVersion } from './format/encoder.js'
export {
  ArchiveDecoder, type DecoderOptions, type DecodeMode, type CorruptInfo, type DecoderStats, type DecoderEvents
} from './format/decoder.js'
export { readRecord } from './format/codec.js'
export { DEFAULT_MAX_RECORD_SIZE } from './format/constants.js'
export type { ReadResult, RecordFound, NeedMore, Damage } from './format/result.js'
export { crc32, crc32c, type ChecksumAlgorithm } from './checksum.js'
export { payloadJson, payloadText, type ShoeboxRecord, type RecordInput, type Metadata, type Position, type MemberPosition, type MemberSpan } from './record.js'
export { ShoeboxError, CorruptArchiveError, InvalidOptionError, VariableRefusedError, type ShoeboxErrorCode, type DamageReason } from './errors.js'
export { encodeNdjson, type EncodeNdjson, type EncodeNdjsonOptions, type InvalidLine, type OnInvalid } from './ndjson/encode-ndjson.js'
export { RecordsToNdjson, recordJson, type RecordJsonOptions, type RecordsToNdjsonOptions } from './ndjson/records-to-ndjson.js'
export type { RollingSink, RollingSinkOptions, FsyncPolicy, OpenEvent, FlushEvent, SealedEvent } from './roll/rolling-sink.js'
export {
  sizePolicy, agePolicy, countPolicy, anyPolicy, type RollPolicy, type RollFile, type RollOptions
} from './roll/policies.js'
export type { RecoveredFile, RecoverOptions, SkippedTemp } from './roll/recover.js'
export { gzip, type GzipOptions } from './compress/gzip.js'
export { gunzip, gunzipMembers, type GunzipOptions, type GunzipStage } from './compress/member-gunzip.js'
export type { MemberLookup } from './compress/member-map.js'
export { zstd, type ZstdOptions, type ZstdCompressStage } from './compress/zstd.js'
export { zstdDecompress, type ZstdDecompressOptions, type ZstdCorruptInfo, type ZstdDecompressStage } from './compress/zstd-decompress.js'
export type { CodecName, CompressOption } from './compress/codecs.js'
export {
  archiveSource, type ArchiveSource, type ArchiveSourceOptions, type FileEvent, type FileEndEvent, type SkippedEvent, type ListFailedEvent, type SourceCorruptEvent
} from './source/archive-source.js'
export { naturalCompare, type FileOrder, type ListedFile } from './source/order.js'
export type { FetchRecords, FetchRecordsOptions } from './source/fetch-records.js'
export { parseSize, parseDuration } from './units.js'
export { openStore, uploadSink, type StoreOptions } from './store/open-store.js'
export type {
  Store, ObjectInfo, ObjectWriter, OpenUpload, PutOptions, PutResult, GetOptions, ListOptions, WriterOptions, ByteRange, ProgressEvent
} from './store/store.js'
export type { S3Store, TransferContext } from './store/s3-store.js'
export type { FileStore } from './store/file-store.js'
export type { S3StoreOptions, S3Location } from './store/s3-config.js'
export { StoreError, type FailureKind } from './store/store-error.js'
export { formatStats, type TransferSnapshot, type DirectionStats } from './transfer/stats.js'
export { SealedUploader, type UploadOptions, type UploadEvent, type UploadErrorEvent } from './roll/uploader.js'
export { packFiles } from './pack/pack-source.js'
export type {
  PackSource, PackOptions, PackFilesOptions, PackSummary, PackRecord, SkippedEntry
} from './pack/pack.js'
export type { UnpackOptions, UnpackSummary, UnpackedFile } from './pack/unpack.js'

/*
 * pack(), unpack() (with the rolling sink, stores and archive source they
 * drive) and recoverDirectory() load their modules on their first call, not
 * when the package is imported: importing shoebox must stay about as fast as
 * starting Node (bench/startup.js, test/startup-lazy.test.ts), and each
 * module loaded at import costs about a millisecond whether used or not (so
 * these wrappers live here rather than in a module of their own). Each has
 * its module's signature and behaviour, plus one `import()` before the first
 * call. Sync factories (encode(), archiveSource()...) cannot wait for a
 * module; they are exported directly above (rollingSink() just below).
 */

/**
 * A Writable of records that writes rolling archive files (lib/roll/rolling-sink.ts). The
 * uploader and the store opener are handed to it here, where the package loads them anyway,
 * so that rolling-sink.ts need not import them for the sinks without `upload`.
 */
export function rollingSink (options: RollingSinkOptions): RollingSink {
  return makeRollingSink(options, { SealedUploader, openStore })
}

/** Pack every matching file under `dir` into archives and upload them to `options.to` (lib/pack/pack.ts). */
export async function pack (dir: string, options: PackOptions): Promise<PackSummary> {
  const { pack } = await import('./pack/pack.js')
  return await pack(dir, options)
}

/** Restore the files of every archive `pattern` matches into `options.out` (lib/pack/unpack.ts). */
export async function unpack (pattern: string, options: UnpackOptions): Promise<UnpackSummary> {
  const { unpack } = await import('./pack/unpack.js')
  return await unpack(pattern, options)
}

/** Cut back and seal what crashed writers left in `dir` (lib/roll/recover.ts). */
export async function recoverDirectory (dir: string, options?: RecoverOptions): Promise<RecoveredFile[]> {
  const { recoverDirectory } = await import('./roll/recover.js')
  return await recoverDirectory(dir, options)
}
