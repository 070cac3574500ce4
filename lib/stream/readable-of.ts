/**
 * A Readable of T, for TypeScript: what a factory that builds a plain
 * Readable (Readable.from(), a Transform at the end of a chain) declares it
 * returns, so that `for await` over it gives T rather than Readable's `any`.
 * A type only: the stream is the Readable it was.
 */
import type { Readable } from 'node:stream'

export interface ReadableOf<T> extends Readable {
  [Symbol.asyncIterator] (): NodeJS.AsyncIterator<T>
}
