/**
 * The endpoints, their methods and the serving modes that allow them
 * (spec §4): a path matches with its %XX escapes decoded, trailing slashes
 * stripped and the query ignored; the mode is checked before the method, as Kronos does.
 */
export type EndpointName = 'index' | 'put' | 'get' | 'delete' | 'streams' | 'infer_schema'

export type ServingMode = 'all' | 'readonly' | 'collector'

export const SERVING_MODES: readonly ServingMode[] = ['all', 'readonly', 'collector']

export interface Route {
  endpoint: EndpointName
  /** In Kronos's order, for the Allow header. */
  methods: readonly string[]
}

const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/1.0/index', { endpoint: 'index', methods: ['GET', 'OPTIONS'] }],
  ['/1.0/events/put', { endpoint: 'put', methods: ['POST', 'OPTIONS'] }],
  ['/1.0/events/get', { endpoint: 'get', methods: ['POST', 'OPTIONS'] }],
  ['/1.0/events/delete', { endpoint: 'delete', methods: ['POST', 'OPTIONS'] }],
  ['/1.0/streams', { endpoint: 'streams', methods: ['POST', 'OPTIONS'] }],
  ['/1.0/streams/infer_schema', { endpoint: 'infer_schema', methods: ['POST', 'OPTIONS'] }]
])

const MODE_ENDPOINTS: Record<ServingMode, ReadonlySet<EndpointName>> = {
  all: new Set(['index', 'put', 'get', 'delete', 'streams', 'infer_schema']),
  readonly: new Set(['index', 'get', 'streams', 'infer_schema']),
  collector: new Set(['index', 'put'])
}

/**
 * The route for a request URL, or undefined (404). A request line in
 * absolute form (`POST http://host/1.0/events/put`, as clients send it
 * through a proxy; servers must accept it, RFC 9112 §3.2.2) routes by its path.
 */
export function findRoute (url: string | undefined): Route | undefined {
  let target = url ?? '/'
  if (!target.startsWith('/')) {
    if (!URL.canParse(target)) return undefined
    target = new URL(target).pathname
  }
  // Kronos routes on WSGI's PATH_INFO, the path with its %XX escapes decoded (the query split off first):
  // `/1.0/%69ndex` is the index there, and a client that escapes a character must reach the same endpoint.
  const pathname = target.split('?')[0].replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))).replace(/\/+$/, '')
  return ROUTES.get(pathname)
}

export function modeAllows (mode: ServingMode, endpoint: EndpointName): boolean {
  return MODE_ENDPOINTS[mode].has(endpoint)
}
