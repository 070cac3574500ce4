/**
 * Objects keyed by names users choose (metadata keys, column names, flags).
 *
 * A plain `{}` inherits Object.prototype, so for the keys `__proto__`,
 * `constructor`, `toString`... `obj[key] = v` sets the prototype instead of
 * a key, and `key in obj` / `obj[key]` find a member that is not data. To
 * mmmeta (Python dicts, SQLite columns) they are ordinary keys, so every
 * row, type map and filter made from such names is one of these: an object
 * whose prototype is an empty object without a prototype, where they are
 * ordinary keys too. (Not `Object.create(null)` itself: V8 keeps such
 * objects in dictionary mode, which made a row ~3.5x slower to fill and walk.)
 */

function KeyDict (): void {}
KeyDict.prototype = Object.create(null) as object

/** The prototype of every keyDict(): nothing on it, and no prototype of its own. */
export const KEY_DICT_PROTOTYPE: object = KeyDict.prototype

/** An empty dictionary, or a copy of `from`'s own enumerable keys (`__proto__` included). */
export function keyDict<V> (from?: Readonly<Record<string, V>>): Record<string, V> {
  const dict = new (KeyDict as unknown as new () => Record<string, V>)()
  if (from !== undefined) {
    const keys = Object.keys(from)
    for (let i = 0; i < keys.length; i++) dict[keys[i]] = from[keys[i]]
  }
  return dict
}
