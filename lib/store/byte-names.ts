/**
 * The keys a FileStore's listings found under file names that are not
 * UTF-8, and the bytes that name their files (fs/walk.ts): get, stat,
 * exists and delete open those bytes, since the decoded name opens nothing.
 *
 * Listings of one directory run at once (a follower's poll, the listing of
 * one key a fetch by position makes, a reader's glob) and finish in any
 * order. Each listing is numbered as its walk starts; what it found, and
 * what it no longer found, decides a key only if no listing numbered later
 * has decided that key already. Applied as each finished, a listing that
 * walked before a rename and finished after the listing that walked after
 * it put the old bytes back (the renamed file was then NOT_FOUND) until the
 * next listing. Which keys a finished listing decided is kept only while a
 * listing numbered before it still walks.
 */

/** A listing done walking: which keys its walk could have found, found or not. */
interface Settled {
  readonly number: number
  readonly covers: (key: string) => boolean
}

export class ByteNames {
  readonly #bytes = new Map<string, Buffer>()
  #last = 0
  /** The listings still walking, by number. */
  readonly #walking = new Set<number>()
  /** Listings done walking while one numbered before them still walks. */
  #settled: Settled[] = []

  /** The bytes that name `key`'s file, if a listing found it under a name that is not UTF-8. */
  get (key: string): Buffer | undefined {
    return this.#bytes.get(key)
  }

  /** A listing starts its walk: its number, for settle() or abandon(). */
  begin (): number {
    this.#walking.add(++this.#last)
    return this.#last
  }

  /**
   * Listing `number` has walked: `found` holds the keys it found under names
   * that are not UTF-8 (with their bytes), `covers` says which keys its walk
   * could have found (a key it covers and did not find is gone, or now has a
   * UTF-8 name). Keys a later listing has decided are left as it decided them.
   */
  settle (number: number, covers: (key: string) => boolean, found: ReadonlyMap<string, Buffer>): void {
    const later = this.#settled.filter((s) => s.number > number)
    const decidedLater = (key: string): boolean => later.some((s) => s.covers(key))
    for (const key of this.#bytes.keys()) {
      if (!found.has(key) && covers(key) && !decidedLater(key)) this.#bytes.delete(key)
    }
    for (const [key, bytes] of found) {
      if (!decidedLater(key)) this.#bytes.set(key, bytes)
    }
    this.#settled.push({ number, covers })
    this.abandon(number)
  }

  /** Listing `number` walks no more (settled, or failed: it decides nothing). */
  abandon (number: number): void {
    this.#walking.delete(number)
    let oldest = Infinity
    for (const walking of this.#walking) oldest = Math.min(oldest, walking)
    // What a listing decided matters only to listings numbered before it that still walk.
    this.#settled = this.#settled.filter((s) => s.number > oldest)
  }
}
