/**
 * Where a metadata object came from (file, line), carried by the object
 * itself under a symbol key (flatten never sees it), so an invalid object is
 * reported where it was read. Input that is not an object at all travels as
 * an UnreadableMetadata, which the ingest counts and reports as invalid.
 */

export const metaOrigin: unique symbol = Symbol.for('shoebox.metaOrigin')

export interface MetaOrigin {
  file?: string
  line?: number
}

/** Attach an origin to an object (returns the same object). */
export function withOrigin<T extends object> (object: T, origin: MetaOrigin): T {
  Object.defineProperty(object, metaOrigin, { value: origin, enumerable: false, configurable: true })
  return object
}

export function originOf (object: unknown): MetaOrigin | undefined {
  if (object instanceof UnreadableMetadata) return object.origin
  return typeof object === 'object' && object !== null ? (object as { [metaOrigin]?: MetaOrigin })[metaOrigin] : undefined
}

/** Input that could not be read as a metadata object (its reason says why). */
export class UnreadableMetadata {
  readonly origin: MetaOrigin
  readonly reason: string
  constructor (origin: MetaOrigin, reason: string) {
    this.origin = { ...origin }
    this.reason = reason
  }
}
