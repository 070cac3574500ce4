/**
 * What a bare 500 to a get or a streams listing meant. A real Kronos answers
 * those two for a namespace it is not configured for with a 500 and no
 * @errors (the exception escapes its streaming endpoints, spec §4, §5.3,
 * §5.5), as it would for a read that crashed. Asked again it says the same:
 * the client retried a mistyped namespace ten times (~20 s) and then
 * reported a server error. infer_schema is a JSON endpoint, where Kronos
 * says 400 NamespaceMissing in words, and it only reads: one request to it
 * tells the two apart. (On a namespace that is configured it reads the
 * stream's latest 100 events; Kronos's memory backend lists a stream it was
 * asked about, as get does, spec §5.3.)
 */
import { collectErrors, KronosError, requestJson, type KronosTarget } from './client-request.js'
import { namespaceMissing } from './answer-kind.js'

const PATH = '/1.0/streams/infer_schema'

/** The stream asked about when the call names none (a streams listing): a valid name. */
const ANY_STREAM = 'shoebox.namespace-check'

/** A bare 500 (no @errors): what a real Kronos answers a get or streams for an unknown namespace. */
export function mayBeUnknownNamespace (failed: KronosError): boolean {
  return failed.status === 500 && failed.errors.length === 0
}

/**
 * `failed` again, with the server's NamespaceMissing words (a refusal: not
 * retried) when infer_schema says the namespace is not configured; `failed`
 * as it was otherwise (the check failing too included).
 */
export async function checkNamespace (target: KronosTarget, failed: KronosError, ask: { stream: string | undefined, namespace: string | undefined },
  signal: AbortSignal | undefined): Promise<KronosError> {
  if (!mayBeUnknownNamespace(failed)) return failed
  const body = `{"stream":${JSON.stringify(ask.stream ?? ANY_STREAM)},"namespace":${JSON.stringify(ask.namespace ?? null)}}`
  let errors: string[]
  try {
    await requestJson(target, 'POST', PATH, body, signal)
    return failed
  } catch (err) {
    if (!(err instanceof KronosError)) return failed
    errors = err.errors.length > 0 ? err.errors : collectErrors(err.response)
  }
  if (!namespaceMissing(errors)) return failed
  const namespace = ask.namespace === undefined ? "the server's default namespace" : `namespace ${ask.namespace}`
  const what = ask.stream === undefined ? namespace : `${namespace}, stream ${ask.stream}`
  return new KronosError('SHOEBOX_EVENTS_FAILED', `${failed.message.replace(/: HTTP 500/, `: ${what}: HTTP 500`)}; ` +
    `the server says ${errors.join('; ')} (asked at ${PATH}): not tried again`, { status: 500, errors, response: failed.response, cause: failed })
}
