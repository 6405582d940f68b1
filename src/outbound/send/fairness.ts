/**
 * In-process concurrency caps and rate limits for outbound sends.
 *
 * A receiver that hangs until the timeout must not take every worker slot:
 * each rule (for notices: each workspace's callback) may hold at most
 * `perRule` slots and each workspace `perWorkspace`. A send over a cap is not
 * queued in memory — the job is deferred a little, so the slot goes to other
 * rules' and workspaces' jobs. Caps are per process; with N worker processes
 * a rule may hold N × perRule connections.
 */
export class FairnessLimiter {
  readonly #perRule: number
  readonly #perWorkspace: number
  readonly #running = new Map<string, number>()
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(options: { perRule: number; perWorkspace: number }) {
    this.#perRule = options.perRule
    this.#perWorkspace = options.perWorkspace
  }

  /** Takes a slot for (rule, workspace) or answers false when either is at its cap. */
  tryAcquire(ruleKey: string, workspaceId: string): boolean {
    const rule = `r:${ruleKey}`
    const workspace = `w:${workspaceId}`
    if ((this.#running.get(rule) ?? 0) >= this.#perRule) return false
    if ((this.#running.get(workspace) ?? 0) >= this.#perWorkspace) return false
    this.acquire(ruleKey, workspaceId)
    return true
  }

  /** Takes a slot whatever the caps say (inline sends); release it the same way. */
  acquire(ruleKey: string, workspaceId: string): void {
    for (const key of [`r:${ruleKey}`, `w:${workspaceId}`]) {
      this.#running.set(key, (this.#running.get(key) ?? 0) + 1)
    }
  }

  release(ruleKey: string, workspaceId: string): void {
    for (const key of [`r:${ruleKey}`, `w:${workspaceId}`]) {
      const n = (this.#running.get(key) ?? 1) - 1
      if (n <= 0) this.#running.delete(key)
      else this.#running.set(key, n)
    }
  }

  /**
   * Token bucket per rule: 0 when a request may go now (and takes a token),
   * else the milliseconds until one will be available.
   */
  rateWaitMs(ruleKey: string, perSecond: number | null, now = Date.now()): number {
    if (!perSecond) return 0
    const bucket = this.#buckets.get(ruleKey) ?? { tokens: perSecond, at: now }
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.at) / 1000) * perSecond)
    bucket.at = now
    this.#buckets.set(ruleKey, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - bucket.tokens) / perSecond) * 1000)
  }
}
