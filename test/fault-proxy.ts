/**
 * A fault-injecting HTTP reverse proxy for S3 tests. It listens on
 * 127.0.0.1 on a free port and forwards every request to `target`
 * unchanged (method, path, query, headers, Host included: SigV4 signs the
 * Host header, so point the SDK client at the proxy's endpoint). Rules can
 * make a request fail instead: an S3 error status, a connection dropped
 * while sending the request or while receiving the response, or latency;
 * or change what passes: one byte of a request body flipped on the way
 * (optionally refused as S3 refuses it, by the body's x-amz-checksum-crc32),
 * or a response header rewritten (a HEAD reporting another size).
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'

export interface RequestInfo {
  method: string
  url: string
  headers: IncomingHttpHeaders
  /**
   * The S3 operation, guessed from method, path and query (path-style
   * addressing): 'PutObject' | 'UploadPart' | 'CreateMultipartUpload' |
   * 'CompleteMultipartUpload' | 'AbortMultipartUpload' | 'GetObject' |
   * 'HeadObject' | 'ListObjectsV2' | 'DeleteObject' | 'HeadBucket', also
   * 'CreateBucket' | 'DeleteBucket' | 'ListBuckets' | 'ListObjects' |
   * 'DeleteObjects' | 'ListParts' | 'ListMultipartUploads', else 'other'.
   */
  op: string
}

export type Fault =
  /** Answer with an S3 XML error body (e.g. 503 SlowDown, 500 InternalError) after draining the request body; nothing is forwarded. */
  | { kind: 'status', status: number, code: string, message?: string }
  /** Read this many bytes of the request body (default 0), then destroy the client's socket; nothing is forwarded. */
  | { kind: 'drop-request', afterBytes?: number }
  /** Forward; send the status, headers and this many bytes of the response body, then destroy the client's socket. */
  | { kind: 'drop-response', afterBytes: number }
  /** Wait, then forward normally. */
  | { kind: 'latency', ms: number }
  /** Forward at once (the server acts on it); hold its answer this long before sending it on. */
  | { kind: 'hold-response', ms: number }
  /**
   * Flip one byte of the request body (at `at`, default the middle) on its way to the server. With
   * `checkCrc32`, do what S3 does and the test server does not: compare the x-amz-checksum-crc32
   * header with the body received, and refuse a mismatch with 400 BadDigest (nothing forwarded).
   */
  | { kind: 'corrupt-body', at?: number, checkCrc32?: boolean }
  /** Forward; replace (or add) one response header, e.g. a HEAD's content-length. */
  | { kind: 'set-response-header', name: string, value: string }

export interface FaultRule {
  match: (req: RequestInfo) => boolean
  fault: Fault
  /** How many more times the rule applies; default Infinity. Decremented each time it is applied. */
  times?: number
}

export type LogEntry = RequestInfo & { fault?: Fault['kind'], status?: number, corrupted?: boolean }

export interface FaultProxy {
  /** 'http://127.0.0.1:PORT' */
  endpoint: string
  port: number
  /** Mutable; the first matching rule with times > 0 applies. */
  rules: FaultRule[]
  /** Every request seen, in arrival order; `status` is the status sent to the client (none when the connection was dropped before). */
  log: LogEntry[]
  /** Requests seen for an op. */
  count (op: string): number
  /** Stop listening and destroy every open connection, ours and upstream. */
  close (): Promise<void>
}

/**
 * Resolves with the first request the proxy sees that `match` accepts: an
 * event to wait on (a part of a given file reaching the server), from a rule
 * that never faults.
 */
export function seen (proxy: FaultProxy, match: (r: RequestInfo) => boolean): Promise<RequestInfo> {
  return new Promise((resolve) => {
    // First: it never applies, so the rules after it still do.
    proxy.rules.unshift({ match: (r) => { if (match(r)) resolve(r); return false }, fault: { kind: 'latency', ms: 0 } })
  })
}

/**
 * Hold each `op` request `ms` at the proxy (a rule added last), and note, as
 * each arrives, how many `op` requests had been answered by then: the array
 * returned fills as they arrive. [0, 0, 0] means three under way at once;
 * [0, 1, 2], one after another.
 */
export function answeredAtArrival (proxy: FaultProxy, op: string, ms: number): number[] {
  const counts: number[] = []
  proxy.rules.push({
    match: (r) => {
      if (r.op !== op) return false
      counts.push(proxy.log.filter((e) => e.op === op && e.status !== undefined).length)
      return true
    },
    fault: { kind: 'latency', ms }
  })
  return counts
}

/** Guess the S3 operation of a path-style request. */
export function guessOp (method: string, url: string): string {
  const u = new URL(url, 'http://proxy.invalid')
  const q = u.searchParams
  const xid = q.get('x-id')
  if (xid !== null && xid !== '') return xid
  // path-style: /bucket or /bucket/ (bucket level), /bucket/key (object level)
  const path = u.pathname.slice(1)
  const slash = path.indexOf('/')
  const isRoot = path === ''
  const isObject = slash >= 0 && slash < path.length - 1
  switch (method) {
    case 'GET':
      if (isRoot) return 'ListBuckets'
      if (isObject) return q.has('uploadId') ? 'ListParts' : 'GetObject'
      if (q.has('uploads')) return 'ListMultipartUploads'
      return q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects'
    case 'HEAD':
      if (isRoot) return 'other'
      return isObject ? 'HeadObject' : 'HeadBucket'
    case 'PUT':
      if (isRoot) return 'other'
      if (!isObject) return 'CreateBucket'
      return q.has('uploadId') && q.has('partNumber') ? 'UploadPart' : 'PutObject'
    case 'POST':
      if (isRoot) return 'other'
      if (isObject && q.has('uploads')) return 'CreateMultipartUpload'
      if (isObject && q.has('uploadId')) return 'CompleteMultipartUpload'
      return q.has('delete') ? 'DeleteObjects' : 'other'
    case 'DELETE':
      if (isRoot) return 'other'
      if (!isObject) return 'DeleteBucket'
      return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject'
    default:
      return 'other'
  }
}

/** CRC32 (zlib's, not shoebox's own) of a body, base64 as in x-amz-checksum-crc32. */
function crc32Base64 (body: Buffer): string {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(zlib.crc32(body) >>> 0)
  return b.toString('base64')
}

function escapeXml (s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Hop-by-hop headers: about one connection, not forwarded (none of them is signed by SigV4). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'])

function forwardable (headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value
  }
  return out
}

export async function startFaultProxy (target: string, rules: FaultRule[] = []): Promise<FaultProxy> {
  const targetUrl = new URL(target)
  const upstreams = new Set<http.ClientRequest>()
  const timers = new Set<NodeJS.Timeout>()
  const log: LogEntry[] = []

  const pickRule = (info: RequestInfo): FaultRule | undefined => {
    for (const rule of proxy.rules) {
      if ((rule.times ?? Infinity) > 0 && rule.match(info)) {
        if (rule.times !== undefined) rule.times--
        return rule
      }
    }
    return undefined
  }

  /**
   * Forward req to the target: `body` instead of the request's own; `responseHeader` set on the
   * response; with `dropAfter`, the response body cut off after that many bytes.
   */
  const forward = (req: IncomingMessage, res: ServerResponse, entry: LogEntry, dropAfter?: number,
    change: { body?: Buffer, responseHeader?: [string, string], holdMs?: number } = {}): void => {
    const upstream = http.request({
      protocol: targetUrl.protocol,
      hostname: targetUrl.hostname,
      port: targetUrl.port,
      method: req.method,
      path: req.url,
      headers: forwardable(req.headers), // Host included, unchanged
      agent: false
    })
    upstreams.add(upstream)
    upstream.on('close', () => upstreams.delete(upstream))
    upstream.on('error', (err) => {
      if (res.destroyed) return
      if (!res.headersSent) {
        const body = `proxy: upstream error: ${err.message}\n`
        entry.status = 502
        res.writeHead(502, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      } else {
        res.destroy()
      }
    })
    upstream.on('response', (ures) => {
      if (change.holdMs !== undefined) {
        const timer = setTimeout(() => {
          timers.delete(timer)
          if (!res.destroyed) answer(ures)
        }, change.holdMs)
        timers.add(timer)
        return
      }
      answer(ures)
    })
    const answer = (ures: IncomingMessage): void => {
      const status = ures.statusCode ?? 502
      entry.status = status
      const headers = forwardable(ures.headers)
      if (change.responseHeader !== undefined) headers[change.responseHeader[0].toLowerCase()] = change.responseHeader[1]
      res.writeHead(status, ures.statusMessage, headers)
      if (dropAfter === undefined) {
        ures.pipe(res)
        return
      }
      let left = dropAfter
      // Stop reading upstream; let what was written leave, then close the client's connection.
      const cut = (): void => {
        ures.destroy()
        const socket = res.socket
        if (socket !== null) socket.end(() => socket.destroy())
      }
      if (left <= 0) {
        res.flushHeaders()
        cut()
        return
      }
      ures.on('data', (chunk: Buffer) => {
        if (left <= 0) return
        if (chunk.length < left) {
          left -= chunk.length
          if (!res.write(chunk)) {
            ures.pause()
            res.once('drain', () => ures.resume())
          }
          return
        }
        res.write(chunk.subarray(0, left))
        left = 0
        cut()
      })
      ures.on('end', () => { if (left > 0) res.end() })
    }
    // The client went away (or we dropped it): stop the upstream request too.
    res.on('close', () => { if (!upstream.destroyed && !res.writableFinished) upstream.destroy() })
    if (change.body !== undefined) upstream.end(change.body)
    else req.pipe(upstream)
  }

  /** An S3 XML error answer, after draining the request body. */
  const refuse = (req: IncomingMessage, res: ServerResponse, entry: LogEntry, status: number, code: string, message: string): void => {
    const body = req.method === 'HEAD'
      ? ''
      : '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' +
        `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>` +
        '<RequestId>FAULTPROXY</RequestId><HostId>fault-proxy</HostId></Error>\n'
    const answer = (): void => {
      entry.status = status
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': 'FAULTPROXY' })
      res.end(body)
    }
    if (req.readableEnded) {
      answer()
      return
    }
    req.resume()
    req.on('end', answer)
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET'
    const url = req.url ?? '/'
    const info: RequestInfo = { method, url, headers: req.headers, op: guessOp(method, url) }
    const entry: LogEntry = { ...info }
    log.push(entry)
    req.on('error', () => {}) // a dropped client; the response side cleans up
    const fault = pickRule(info)?.fault
    if (fault !== undefined) entry.fault = fault.kind

    switch (fault?.kind) {
      case undefined:
        forward(req, res, entry)
        return
      case 'status':
        refuse(req, res, entry, fault.status, fault.code, fault.message ?? `injected ${fault.status} ${fault.code}`)
        return
      case 'corrupt-body': {
        const chunks: Buffer[] = []
        req.on('data', (chunk: Buffer) => { chunks.push(chunk) })
        req.on('end', () => {
          const body = Buffer.concat(chunks)
          if (body.length > 0) body[Math.min(fault.at ?? body.length >> 1, body.length - 1)] ^= 0xff
          entry.corrupted = true
          const sent = req.headers['x-amz-checksum-crc32']
          if (fault.checkCrc32 === true && sent !== crc32Base64(body)) {
            refuse(req, res, entry, 400, 'BadDigest', `The CRC32 you specified (${String(sent)}) did not match the calculated checksum.`)
            return
          }
          forward(req, res, entry, undefined, { body })
        })
        return
      }
      case 'hold-response':
        forward(req, res, entry, undefined, { holdMs: fault.ms })
        return
      case 'set-response-header':
        forward(req, res, entry, undefined, { responseHeader: [fault.name, fault.value] })
        return
      case 'drop-request': {
        const after = fault.afterBytes ?? 0
        const drop = (): void => { req.socket.destroy() }
        if (after <= 0) {
          drop()
          return
        }
        let seen = 0
        req.on('data', (chunk: Buffer) => {
          seen += chunk.length
          if (seen >= after) drop()
        })
        req.on('end', drop)
        return
      }
      case 'drop-response':
        forward(req, res, entry, fault.afterBytes)
        return
      case 'latency': {
        const timer = setTimeout(() => {
          timers.delete(timer)
          if (!res.destroyed) forward(req, res, entry) // unless the client gave up meanwhile
        }, fault.ms)
        timers.add(timer)
      }
    }
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port

  let closed: Promise<void> | undefined
  const proxy: FaultProxy = {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    rules,
    log,
    count: (op) => log.filter((e) => e.op === op).length,
    close () {
      closed ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
        server.close(() => resolve())
        server.closeAllConnections()
        for (const upstream of upstreams) upstream.destroy()
      })
      return closed
    }
  }
  return proxy
}
