/**
 * A failed answer (a 5xx, a refusal) whose body never ends, from a hostile
 * or broken server or proxy: the client and the shipper read its first words
 * (64 KiB) and cut it there. They read it to a good answer's cap (64 MiB for
 * the client, 16 MiB for a put) on every try. Measured in the bytes the
 * server got to write before the connection was cut, never in time.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { kronos } from '../../lib/events/client.js'
import { ship } from '../../lib/events/ship.js'
import { all } from './fixtures/get-all.js'

/** A server answering `status` with an endless body of 'x': `written()` counts the bytes the sockets took. */
async function endless (t: Test, status: number): Promise<{ url: string, written: () => number, requests: () => number }> {
  let written = 0
  let requests = 0
  const chunk = Buffer.alloc(256 * 1024, 'x')
  const server = http.createServer((req, res) => {
    requests++
    req.resume()
    req.on('end', () => {
      res.writeHead(status, { 'Content-Type': 'text/plain' })
      const pump = (): void => {
        while (!res.destroyed && !res.writableEnded) {
          written += chunk.length
          if (!res.write(chunk)) return
        }
      }
      res.on('drain', pump)
      res.on('error', () => {})
      pump()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, written: () => written, requests: () => requests }
}

/** Far above what the loopback's buffers take after the client stops reading, far below a good answer's cap. */
const PER_TRY = 12 * 1024 * 1024

t.test('client: a 503 or a 400 with an endless body: its first words in the error, the rest never read', async (t) => {
  const busy = await endless(t, 503)
  const client = kronos(busy.url, { attempts: 3, baseDelay: 1, maxDelay: 2 })
  t.teardown(() => { client.close() })
  const { error } = await all(client.get('s', 0, 10))
  t.match(error, { status: 503, message: new RegExp(`^POST ${busy.url}/1\\.0/events/get: HTTP 503: x{200}$`) })
  t.equal(busy.requests(), 3)
  t.ok(busy.written() < 3 * PER_TRY, `${busy.written()} bytes written for 3 tries`)

  const refusing = await endless(t, 400)
  const other = kronos(refusing.url, { attempts: 3, baseDelay: 1, maxDelay: 2 })
  t.teardown(() => { other.close() })
  await t.rejects(other.delete('s', 0, 10), { status: 400, message: /HTTP 400: x{200}$/ })
  t.ok(refusing.written() < PER_TRY, `${refusing.written()} bytes written`)
})

t.test('ship: a 503 with an endless body: tried again within attempts, each answer cut at its first words', async (t) => {
  const busy = await endless(t, 503)
  const shipper = ship(busy.url, { stream: 's', retry: { attempts: 3, baseDelay: 1, maxDelay: 2 } })
  const failed = new Promise<Error>((resolve) => shipper.once('error', resolve))
  shipper.write({ a: 1 }, () => {})
  const error = await failed
  t.match(error, { message: new RegExp(`^${busy.url}/1\\.0/events/put: HTTP 503: x{200}; gave up after 3 tries`) })
  t.equal(busy.requests(), 3)
  t.ok(busy.written() < 3 * PER_TRY, `${busy.written()} bytes written for 3 tries`)
})
