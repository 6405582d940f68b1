interface Bucket {
  tokens: number
  at: number
}

/**
 * Token buckets in memory, one per key (a token hash, a source address):
 * `rate` per second sustained, bursts up to twice that. Per process, which
 * is the point: the check must cost nothing next to a database round trip.
 * A rate of 0 turns the limiter off.
 */
export class RateLimiter {
  readonly #rate: number
  readonly #burst: number
  readonly #buckets = new Map<string, Bucket>()

  constructor(ratePerSecond: number) {
    this.#rate = ratePerSecond
    this.#burst = ratePerSecond * 2
  }

  /** 0 when the call may go ahead (and is counted); otherwise seconds to wait, for Retry-After. */
  take(key: string, now = performance.now()): number {
    if (this.#rate === 0) return 0
    let bucket = this.#buckets.get(key)
    if (!bucket) {
      bucket = { tokens: this.#burst, at: now }
      this.#buckets.set(key, bucket)
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate)
      bucket.at = now
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#rate))
  }

  /** Gives back a call `take` counted (one that turned out not to count). */
  refund(key: string): void {
    const bucket = this.#buckets.get(key)
    if (bucket) bucket.tokens = Math.min(this.#burst, bucket.tokens + 1)
  }

  /** Seconds to wait before a call could be taken (0: now), counting nothing. */
  wait(key: string, now = performance.now()): number {
    if (this.#rate === 0) return 0
    const bucket = this.#buckets.get(key)
    if (!bucket) return 0
    const tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate)
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.#rate))
  }

  /** Forgets buckets that have refilled: they would start full anyway. */
  sweep(now = performance.now()): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.#rate >= this.#burst)
        this.#buckets.delete(key)
    }
  }

  get size(): number {
    return this.#buckets.size
  }
}
