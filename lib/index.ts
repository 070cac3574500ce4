/** shoebox: stream-first archiving. The public API, nothing else. */
export { encode, EncodeStream, type EncodeOptions } from './format/encode.js'
export { decode, DecodeStream, type DecodeOptions, type DecodedCorruptInfo } from './format/decode.js'
export { ArchiveEncoder, encodeRecords, type EncoderOptions, type FormatVersion } from './format/encoder.js'
export {
  ArchiveDecoder, type DecoderOptions, type DecodeMode, type CorruptInfo, type DecoderStats, type DecoderEvents
} from './format/decoder.js'
export { readRecord } from './format/codec.js'
export type { ReadResult, RecordFound, NeedMore, Damage } from './format/result.js'
export { MAGIC_BYTES, DEFAULT_MAX_RECORD_SIZE } from './format/constants.js'
export { crc32, crc32c, type ChecksumAlgorithm } from './checksum.js'
export { payloadJson, payloadText, type ShoeboxRecord, type RecordInput, type Metadata, type Position, type MemberPosition } from './record.js'
export { ShoeboxError, CorruptArchiveError, type ShoeboxErrorCode, type DamageReason } from './errors.js'
export { encodeNdjson, EncodeNdjson, type EncodeNdjsonOptions, type InvalidLine, type OnInvalid } from './ndjson/encode-ndjson.js'
export {
  rollingSink, RollingSink, type RollingSinkOptions, type FsyncPolicy, type OpenEvent, type FlushEvent, type SealedEvent
} from './roll/rolling-sink.js'
export {
  sizePolicy, agePolicy, countPolicy, anyPolicy, rollPolicy, type RollPolicy, type RollFile, type RollOptions
} from './roll/policies.js'
export { expandTemplate, DEFAULT_TEMPLATE } from './roll/template.js'
export { recoverDirectory, recoverFile, type RecoveredFile, type RecoverOptions, type SkippedTemp } from './roll/recover.js'
export { gzip, gunzip, gunzipMembers, gzipMember, isGzip, type GzipOptions, type GunzipOptions, type GunzipStage, type MemberLookup } from './compress/gzip.js'
export {
  archiveSource, ArchiveSource, type ArchiveSourceOptions, type FileEvent, type FileEndEvent, type SkippedEvent
} from './source/archive-source.js'
export { naturalCompare, type FileOrder, type ListedFile } from './source/order.js'
export { parseSize, parseDuration } from './units.js'
export {
  openStore, uploadSink, schemeOf, type StoreOptions
} from './store/open-store.js'
export type {
  Store, ObjectInfo, ObjectWriter, PutOptions, PutResult, GetOptions, WriterOptions, ByteRange, ProgressEvent
} from './store/store.js'
export { FileStore } from './store/file-store.js'
export { S3Store, type TransferContext } from './store/s3-store.js'
export { parseS3Url, type S3StoreOptions, type S3Location } from './store/s3-config.js'
export { StoreError, type FailureKind } from './store/store-error.js'
export { TransferStats, formatStats, type TransferSnapshot, type DirectionStats } from './store/stats.js'
export { checkKey } from './store/keys.js'
export {
  SealedUploader, pendingUploads, type UploadOptions, type UploadEvent, type UploadErrorEvent
} from './roll/uploader.js'
export {
  pack, packFiles, PackSource, PACK_KEYS, type PackOptions, type PackFilesOptions, type PackSummary, type PackRecord, type SkippedEntry
} from './pack/pack.js'
export { unpack, type UnpackOptions, type UnpackSummary, type UnpackedFile } from './pack/unpack.js'
