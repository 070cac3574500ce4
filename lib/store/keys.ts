/**
 * Object keys. A key is '/'-separated, relative, and never climbs out of its
 * store's root: a key read from an archive or a request is checked before it
 * becomes a path or an S3 key (checkKey). An S3 key is a name, not a path:
 * one S3 holds is read by that name however it looks (checkObjectName).
 */
import { ShoeboxError } from '../errors.js'

export function badKey (key: string, why: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_BAD_KEY', `key ${JSON.stringify(key)}: ${why}`)
}

/** Throw unless `key` is a safe relative key: no '..' or '.' segment, not absolute, no NUL, no backslash. */
export function checkKey (key: string): string {
  const why = keyProblem(key)
  if (why !== undefined) throw badKey(String(key), why)
  return key
}

/**
 * What makes `key` unsafe (checkKey), in words ('has a '..' segment'), or
 * undefined for a safe key: for a caller that words its own refusal
 * (unpack's 'refusing path ...'), which took it from checkKey's message.
 */
export function keyProblem (key: string): string | undefined {
  if (typeof key !== 'string' || key === '') return 'must be a non-empty string'
  if (key.includes('\0')) return 'contains NUL'
  if (key.includes('\\')) return 'contains a backslash'
  if (key.startsWith('/')) return 'is absolute'
  // Absolute where a key is a path (a directory store on Windows): said, or 'k:notes.log' refused for no visible reason.
  if (/^[A-Za-z]:/.test(key)) return `is absolute (it begins as a Windows drive does, '${key.slice(0, 2)}')`
  for (const segment of key.split('/')) {
    if (segment === '..' || segment === '.') return `has a '${segment}' segment`
    if (segment === '') return 'has an empty segment'
  }
  return undefined
}

/**
 * Throw unless `key` can name an object a store of names (S3) already holds.
 * S3 holds 'e/z//c', 'a/./b' and 'a/../b' (a path join gone wrong, another
 * tool's upload), and a listing hands them back: sent as they are (the SDK
 * and S3 normalise nothing; a store of paths refuses them with checkKey),
 * they name that object and climb nowhere, so reading and stat take them.
 * Writes and deletes keep to checkKey: what shoebox writes, any store can
 * hold, and a change never rests on no server or proxy normalising '..'.
 */
export function checkObjectName (key: string): string {
  if (typeof key !== 'string' || key === '') throw badKey(String(key), 'must be a non-empty string')
  if (key.includes('\0')) throw badKey(key, 'contains NUL')
  return key
}

/** Join a store prefix ('' or ending without '/') and a key. */
export function joinKey (prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}/${key}`
}

/** The literal part of a glob before its first wildcard segment, e.g. 'logs/2024/' of 'logs/2024/**\/*.gz'. */
export function literalPrefix (pattern: string): string {
  const segments = pattern.split('/')
  let literal = 0
  while (literal < segments.length - 1 && !/[*?[\]{}!()+@]/.test(segments[literal])) literal++
  return literal === 0 ? '' : segments.slice(0, literal).join('/') + '/'
}
