/** Orders for reading files: natural by name (default), by mtime, or the caller's. */
import { givenValue, invalidOption } from '../errors.js'

export interface ListedFile {
  /** Path relative to the source's root, with '/' separators. */
  name: string
  /** Full path on disk. */
  path: string
  size: number
  mtimeMs: number
  /** The store's version tag (an S3 ETag; size and mtime for a file), so a read of an object that appears whole never mixes two versions. */
  etag?: string
}

export type FileOrder = 'name' | 'mtime' | ((a: ListedFile, b: ListedFile) => number)

/**
 * Natural order: runs of digits compare as numbers ('file-9' < 'file-10'),
 * everything else by code unit, so the default names (time, then sequence)
 * read back in write order.
 */
export function naturalCompare (a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i)
    const cb = b.charCodeAt(j)
    if (isDigit(ca) && isDigit(cb)) {
      let ei = i
      let ej = j
      while (ei < a.length && isDigit(a.charCodeAt(ei))) ei++
      while (ej < b.length && isDigit(b.charCodeAt(ej))) ej++
      const na = a.slice(i, ei).replace(/^0+(?=\d)/, '')
      const nb = b.slice(j, ej).replace(/^0+(?=\d)/, '')
      if (na.length !== nb.length) return na.length - nb.length
      if (na !== nb) return na < nb ? -1 : 1
      // Equal numbers: fewer leading zeros first, so the order is total.
      if (ei - i !== ej - j) return (ei - i) - (ej - j)
      i = ei
      j = ej
      continue
    }
    if (ca !== cb) return ca - cb
    i++
    j++
  }
  return (a.length - i) - (b.length - j)
}

function isDigit (c: number): boolean {
  return c >= 48 && c <= 57
}

export function comparator (order: FileOrder = 'name'): (a: ListedFile, b: ListedFile) => number {
  if (typeof order === 'function') return order
  if (order === 'mtime') return (a, b) => a.mtimeMs - b.mtimeMs || naturalCompare(a.name, b.name)
  // Anything else is a mistake ('time', 'date'), not quietly the name order.
  if (order !== 'name') throw invalidOption('order', `must be 'name', 'mtime' or a function, got ${givenValue(order)}`)
  return (a, b) => naturalCompare(a.name, b.name)
}
