/**
 * A 429's or 503's Retry-After (RFC 9110: delay-seconds, or an HTTP date)
 * in ms from now, capped: a server asking for 10^9 seconds is asked again
 * after the cap, not never. Anything else (negative, '1e3', '0x10', text)
 * is no Retry-After, and the backoff alone applies. The Kronos client and
 * the shipper read it alike (they had a parser each: the client took
 * '0x10' as 16 s and '1e3' as 1000 s).
 */

/** Undefined when absent or unreadable; a date past is 0. */
export function parseRetryAfter (value: string | undefined, capMs: number, now = Date.now()): number | undefined {
  const text = value?.trim() ?? ''
  let ms: number
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000
  // An HTTP date names its day and month; Date.parse alone reads '-5' as the year 2001.
  else if (/[a-z]/i.test(text)) ms = Date.parse(text) - now
  else return undefined
  return Number.isFinite(ms) ? Math.min(capMs, Math.max(0, ms)) : undefined
}
