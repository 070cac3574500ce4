/**
 * A Content-Encoding the client did not ask for. Neither the Kronos client
 * nor the shipper sends Accept-Encoding, so a server (or a proxy) that
 * gzips an answer anyway sends bytes they would read as garbage: a get's
 * first line "not JSON" at character "\u001f", a put's answer "not JSON"
 * with binary in the message. Named for what it is instead.
 */
import type { IncomingHttpHeaders } from 'node:http'

/** The answer's Content-Encoding when it is one (gzip, br, ...), undefined for none or identity. */
export function unaskedEncoding (headers: IncomingHttpHeaders): string | undefined {
  const encoding = headers['content-encoding']?.trim().toLowerCase()
  return encoding === undefined || encoding === '' || encoding === 'identity' ? undefined : encoding
}
