/**
 * What a Kronos-protocol server's answer to a failed request means for
 * trying again: the one table the client (client-request.ts, client-get.ts)
 * and the shipper (ship-put.ts, ship.ts) read. They had a copy each.
 *
 * - 'transient': no answer (a refused or broken connection, a timeout), 408,
 *   429, 5xx. Worth another try, with backoff and Retry-After.
 * - 'refused': the server refuses where the request goes, not what it
 *   carries, so every other request there gets the same: a namespace it is
 *   not configured for (400 NamespaceMissing, spec §5.2), 401 and 407 (a
 *   proxy's login), 403 (a serving mode that blocks the endpoint, §4, or a
 *   proxy), 404 (no such path: a wrong base URL), 405 (the method: a wrong
 *   path too), a redirect (not followed: credentials must not go to another
 *   host). Failing at once is right; a shipper sends nothing more there.
 * - 'rejected': this request only (400 for its body, 413 too large, any
 *   other status): not tried again; other requests may pass.
 *
 * A real Kronos answers a get or a streams listing for an unknown namespace
 * with a bare 500 (the exception escapes its streaming endpoints, §4, §5.3,
 * §5.5): that answer is 'transient' here, as a crashed read is; the client
 * asks the server what it meant (namespace-check.ts) before retrying it.
 */
export type AnswerKind = 'transient' | 'refused' | 'rejected'

/**
 * How much of a failed answer's body is read: its words (a Kronos @errors envelope, a proxy's page) are
 * all that is wanted. Read to the cap of a good answer (64 MiB), a server answering 5xx with an endless
 * body cost that much memory and transfer on every retry.
 */
export const MAX_FAILED_ANSWER_BYTES = 64 * 1024

/** The repr() Kronos gives an unknown namespace: NamespaceMissing('`x` namespace is not configured',). */
const NAMESPACE_MISSING = /^NamespaceMissing\(/

/** Its status (undefined: no answer came) and its @errors. */
export function answerKind (status: number | undefined, errors: readonly string[] = []): AnswerKind {
  // Said in words, whatever the status (a proxy's, or a check's: namespace-check.ts).
  if (namespaceMissing(errors)) return 'refused'
  if (status === undefined || status === 408 || status === 429 || status >= 500) return 'transient'
  if ((status >= 300 && status < 400) || status === 401 || status === 403 || status === 404 || status === 405 || status === 407) return 'refused'
  return 'rejected'
}

/** Whether @errors say the namespace is not configured. */
export function namespaceMissing (errors: readonly string[]): boolean {
  return errors.some((e) => NAMESPACE_MISSING.test(e))
}

/**
 * ' (a redirect to ORIGIN/PATH, not followed)' for a 3xx with a Location, else ''. Never followed: the
 * request's Authorization would go to whatever host the server names. Shown without user, password or
 * query (a token may ride there).
 */
export function redirectNote (status: number, location: string | undefined, from: string): string {
  if (status < 300 || status >= 400 || location === undefined) return ''
  let to: URL
  try {
    to = new URL(location, from)
  } catch {
    return ''
  }
  return ` (a redirect to ${to.origin}${to.pathname}, not followed)`
}
