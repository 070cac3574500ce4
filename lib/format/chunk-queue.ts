/**
 * A queue of input chunks that hands out contiguous views without copying in
 * the common case (a record wholly inside one chunk), copies only the bytes
 * of a record that straddles chunks, and assembles a long awaited record in
 * one buffer of its final size so that tiny chunks cost O(n), not O(n^2).
 */
export class ChunkQueue {
  #chunks: Buffer[] = []
  #head = 0
  #headPos = 0
  #length = 0
  #offset = 0
  #assembly: Buffer | null = null
  #assemblyFill = 0

  /** `offset`: the absolute offset of the first byte that will be pushed. */
  constructor (offset = 0) {
    this.#offset = offset
  }

  /** Bytes available. */
  get length (): number {
    return this.#length
  }

  /** Absolute stream offset of the first available byte. */
  get offset (): number {
    return this.#offset
  }

  push (chunk: Buffer): void {
    if (chunk.length === 0) return
    const assembly = this.#assembly
    if (assembly === null) {
      this.#chunks.push(chunk)
      this.#length += chunk.length
      return
    }
    const n = Math.min(assembly.length - this.#assemblyFill, chunk.length)
    chunk.copy(assembly, this.#assemblyFill, 0, n)
    this.#assemblyFill += n
    this.#length += n
    if (this.#assemblyFill === assembly.length) {
      this.#assembly = null
      this.#chunks = [assembly]
      this.#head = 0
      this.#headPos = 0
    }
    if (n < chunk.length) this.push(chunk.subarray(n))
  }

  /**
   * Announce that `n` contiguous bytes are needed and fewer are available:
   * later chunks are copied straight into one buffer of size n.
   */
  want (n: number): void {
    if (this.#assembly !== null || n <= this.#length) return
    const assembly = Buffer.allocUnsafe(n)
    const length = this.#length
    this.#assemblyFill = this.#copyOut(assembly, length)
    this.#length = length
    this.#assembly = assembly
  }

  /**
   * A buffer whose first `n` bytes (n <= length) are the next available bytes;
   * it may hold more. With `greedy`, a merge takes in the whole next chunk, so
   * a byte-by-byte scan does not merge one byte at a time.
   */
  view (n: number, greedy = false): Buffer {
    this.#abandonAssembly()
    const first = this.#chunks[this.#head]
    if (first.length - this.#headPos >= n) return this.#headPos === 0 ? first : first.subarray(this.#headPos)
    let size = n
    const second = this.#chunks[this.#head + 1]
    if (greedy && second !== undefined) {
      size = Math.max(n, Math.min(this.#length, first.length - this.#headPos + second.length))
    }
    const merged = Buffer.allocUnsafe(size)
    this.#copyOut(merged, size)
    this.#chunks.unshift(merged)
    this.#length += size
    return merged
  }

  /** Drop n bytes (n <= length). */
  consume (n: number): void {
    this.#abandonAssembly()
    this.#offset += n
    this.#length -= n
    while (n > 0) {
      const rest = this.#chunks[this.#head].length - this.#headPos
      if (n < rest) {
        this.#headPos += n
        return
      }
      n -= rest
      this.#head++
      this.#headPos = 0
    }
    if (this.#head === this.#chunks.length) {
      this.#chunks = []
      this.#head = 0
    } else if (this.#head > 1024) {
      this.#chunks = this.#chunks.slice(this.#head)
      this.#head = 0
    }
  }

  /** Input ended (or the caller changed its mind) before an assembly filled: keep what it has as a chunk. */
  #abandonAssembly (): void {
    if (this.#assembly === null) return
    this.#chunks = [this.#assembly.subarray(0, this.#assemblyFill)]
    this.#head = 0
    this.#headPos = 0
    this.#assembly = null
  }

  /** Move the first `n` available bytes into `target`, removing them from the chunk list. */
  #copyOut (target: Buffer, n: number): number {
    let filled = 0
    while (filled < n) {
      const chunk = this.#chunks[this.#head]
      const take = Math.min(n - filled, chunk.length - this.#headPos)
      chunk.copy(target, filled, this.#headPos, this.#headPos + take)
      filled += take
      this.#headPos += take
      if (this.#headPos === chunk.length) {
        this.#head++
        this.#headPos = 0
      }
    }
    this.#length -= n
    this.#chunks = this.#chunks.slice(this.#head)
    if (this.#headPos > 0) this.#chunks[0] = this.#chunks[0].subarray(this.#headPos)
    this.#head = 0
    this.#headPos = 0
    return filled
  }
}
