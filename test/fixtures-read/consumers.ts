/** The ways a user consumes a readable, each reporting what it was given and how the stream ended. */
import { Writable, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ShoeboxRecord } from '../../lib/index.js'

export interface Outcome { payloads: string[], error: unknown }

export const consumers: Record<string, (stream: Readable) => Promise<Outcome>> = {
  async 'for await' (stream) {
    const seen: string[] = []
    try {
      for await (const record of stream) seen.push((record as ShoeboxRecord).payload.toString())
    } catch (error) {
      return { payloads: seen, error }
    }
    return { payloads: seen, error: null }
  },
  async 'pipeline into a slow Writable' (stream) {
    const seen: string[] = []
    try {
      await pipeline(stream, new Writable({
        objectMode: true,
        highWaterMark: 1,
        write (record: ShoeboxRecord, _encoding, callback) {
          seen.push(record.payload.toString())
          setTimeout(callback, 0)
        }
      }))
    } catch (error) {
      return { payloads: seen, error }
    }
    return { payloads: seen, error: null }
  },
  async "'data' with pause and resume" (stream) {
    const seen: string[] = []
    return await new Promise((resolve) => {
      stream.on('data', (record: ShoeboxRecord) => {
        seen.push(record.payload.toString())
        if (seen.length % 7 === 0) {
          stream.pause()
          setTimeout(() => { stream.resume() }, 1)
        }
      })
      stream.once('end', () => { resolve({ payloads: seen, error: null }) })
      stream.once('error', (error) => { resolve({ payloads: seen, error }) })
    })
  },
  async 'a consumer that attaches late' (stream) {
    // Start the stream without taking anything, let it meet the damage, then read.
    // (An error with nothing before it comes at once: catch it until the reader comes.)
    stream.on('error', () => {})
    stream.read(0)
    await new Promise((resolve) => setTimeout(resolve, 150))
    return await consumers['for await'](stream)
  }
}
