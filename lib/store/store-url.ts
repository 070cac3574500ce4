/**
 * What a store URL is: 's3://bucket/prefix', 'file:///dir', or a bare path
 * (a local directory). Apart from open-store.ts so that a command can check
 * the URL it was given before any work (and a usage error says so at once)
 * without loading the stores themselves.
 */
import { fileURLToPath } from 'node:url'
import { ShoeboxError } from '../errors.js'
import { parseS3Url } from './s3-config.js'

/** The scheme of a URL-like string ('s3', 'file'), or undefined for a plain path. */
export function schemeOf (url: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)
  return m === null ? undefined : m[1].toLowerCase()
}

export function isRemote (url: string): boolean {
  const scheme = schemeOf(url)
  return scheme !== undefined && scheme !== 'file'
}

/** The directory of a file:// URL; one the platform cannot read as a path (file://host/x on Linux) is a bad URL. */
export function fileUrlPath (url: string): string {
  try {
    return fileURLToPath(url)
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_BAD_URL', `${shown(url)}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Throws SHOEBOX_BAD_URL, as openStore() would, when `url` names no store:
 * empty, an unknown scheme, a file:// URL with a host, or a bad s3:// URL
 * (bucket name, credentials). Opens nothing. A glob over a store (read, ls)
 * is checked the same way.
 */
export function checkStoreUrl (url: string): void {
  if (typeof url !== 'string' || url === '') throw new ShoeboxError('SHOEBOX_BAD_URL', 'a store URL or directory is required')
  const scheme = schemeOf(url)
  if (scheme === undefined) return
  if (scheme === 'file') fileUrlPath(url)
  else if (scheme === 's3') parseS3Url(url)
  else throw new ShoeboxError('SHOEBOX_BAD_URL', `unknown store URL scheme '${scheme}://' in ${shown(url)} (known: s3://, file://, or a directory)`)
}

/** The URL as errors show it: without credentials (scheme://user:secret@host). */
function shown (url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//')
}
