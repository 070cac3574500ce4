/**
 * setOwnKey(): `obj[key] = value` that makes a key for every name. On a plain
 * object "__proto__" is Object.prototype's accessor, so assigning it sets the
 * prototype (or, for a string, does nothing) and no key appears, where
 * JSON.parse makes an own key: every parser of JSON or metadata that builds
 * objects key by key sets them through this.
 */
export function setOwnKey<T> (obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  else obj[key] = value
}
