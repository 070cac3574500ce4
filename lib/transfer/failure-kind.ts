/**
 * What went wrong with a transfer, as statistics group it and as retry logic
 * reads it. It lives here, not in store/, because every transfer shares it
 * (stores, the uploader, the event shipper) and transfer/ imports nothing of theirs.
 */
export type FailureKind =
  | 'not-found'
  | 'no-bucket'
  | 'denied'
  | 'unreachable'
  | 'throttled'
  | 'server'
  | 'network'
  | 'verify'
  | 'other'
