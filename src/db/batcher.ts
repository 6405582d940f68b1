/**
 * Group commit. Work items that arrive while a batch is being written wait
 * and go together in the next one, so under load one round trip (and one
 * fsync) serves many calls, while a lone call waits only for the current
 * turn of the event loop. `run` answers one result per item, in order.
 */
export class Batcher<I, O> {
  readonly #run: (items: I[]) => Promise<O[]>
  readonly #maxBatch: number
  readonly #maxConcurrent: number
  #queue: { item: I; resolve: (value: O) => void; reject: (reason: unknown) => void }[] = []
  #running = 0
  #scheduled = false
  #idle: (() => void)[] = []

  constructor(
    run: (items: I[]) => Promise<O[]>,
    options: { maxBatch: number; maxConcurrent: number },
  ) {
    this.#run = run
    this.#maxBatch = options.maxBatch
    this.#maxConcurrent = options.maxConcurrent
  }

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      this.#schedule()
    })
  }

  /** Resolves once everything pushed so far has been written. */
  drain(): Promise<void> {
    if (this.#queue.length === 0 && this.#running === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  // setImmediate, not a microtask: requests whose bytes arrived in the same
  // poll phase are all parsed before the batch is cut.
  #schedule() {
    if (this.#scheduled || this.#running >= this.#maxConcurrent || this.#queue.length === 0) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#flush()
    })
  }

  #flush() {
    while (this.#running < this.#maxConcurrent && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch)
      this.#running++
      this.#run(batch.map((entry) => entry.item))
        .then(
          (results) => {
            for (const [i, entry] of batch.entries()) entry.resolve(results[i] as O)
          },
          (error) => {
            for (const entry of batch) entry.reject(error)
          },
        )
        .finally(() => {
          this.#running--
          if (this.#queue.length > 0) this.#schedule()
          else if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve()
        })
    }
  }
}
