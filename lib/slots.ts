/**
 * A budget of slots that jobs take in any amounts and give back; takers
 * wait in order (a big taker is not starved by small ones behind it). A
 * slot given back goes straight to the next taker that fits, without a turn
 * of the event loop in between.
 */
export class Slots {
  #free: number
  readonly #waiting: Array<{ n: number, resolve: () => void }> = []

  constructor (total: number) {
    this.#free = total
  }

  async take (n = 1): Promise<void> {
    if (this.#waiting.length === 0 && this.#free >= n) {
      this.#free -= n
      return
    }
    await new Promise<void>((resolve) => { this.#waiting.push({ n, resolve }) })
  }

  give (n = 1): void {
    this.#free += n
    while (this.#waiting.length > 0 && this.#free >= this.#waiting[0].n) {
      const next = this.#waiting.shift() as { n: number, resolve: () => void }
      this.#free -= next.n
      next.resolve()
    }
  }

  /** `job` once `n` slots are taken; they are given back when it settles. */
  async run<T> (job: () => Promise<T>, n = 1): Promise<T> {
    await this.take(n)
    try {
      return await job()
    } finally {
      this.give(n)
    }
  }
}
