/**
 * In-process concurrency caps and rate limits for outbound sends.
 *
 * A receiver that hangs until the timeout must not take every worker slot:
 * each rule (for notices: each workspace's callback) may hold at most
 * `perRule` slots and each workspace `perWorkspace`. A send over a cap is
 * deferred a little (a new job), so the slot goes to other rules' and
 * workspaces' jobs — unless the rule's sends are finishing quickly, when it
 * may wait in memory for the next free slot instead (`acquireSoon`). Caps are
 * per process; with N worker processes a rule may hold N × perRule connections.
 */
export class FairnessLimiter {
  readonly #perRule: number
  readonly #perWorkspace: number
  readonly #running = new Map<string, number>()
  readonly #buckets = new Map<string, { tokens: number; at: number }>()
  /** When each busy rule key last took or gave back a slot. */
  readonly #movedAt = new Map<string, number>()
  /** Sends waiting in memory for a rule key's next free slot, oldest first. */
  readonly #waiting = new Map<string, Waiter[]>()

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
  acquire(ruleKey: string, workspaceId: string, now = Date.now()): void {
    for (const key of [`r:${ruleKey}`, `w:${workspaceId}`]) {
      this.#running.set(key, (this.#running.get(key) ?? 0) + 1)
    }
    this.#movedAt.set(ruleKey, now)
  }

  release(ruleKey: string, workspaceId: string, now = Date.now()): void {
    for (const key of [`r:${ruleKey}`, `w:${workspaceId}`]) {
      const n = (this.#running.get(key) ?? 1) - 1
      if (n <= 0) this.#running.delete(key)
      else this.#running.set(key, n)
    }
    // Only a rule at its cap asks when its slots last moved; an idle one is forgotten.
    if (this.#running.has(`r:${ruleKey}`)) this.#movedAt.set(ruleKey, now)
    else this.#movedAt.delete(ruleKey)
    const waiting = this.#waiting.get(ruleKey)
    const next = waiting?.[0]
    if (next && this.tryAcquire(ruleKey, next.workspaceId)) this.#settle(ruleKey, next, true)
  }

  /**
   * Like `tryAcquire`, but a send that finds its rule at the cap while the
   * rule's slots are turning over (one was taken or given back within the
   * last `maxWaitMs`) waits in memory, up to `maxWaitMs`, for the next free
   * slot. With a receiver that answers quickly the wait is a few
   * milliseconds, far cheaper than deferring the job through the database,
   * which would otherwise happen to most jobs of a busy rule. A hanging
   * receiver frees no slot: from `maxWaitMs` after its last one moved, its
   * sends are refused at once as before and the worker slots go to others.
   */
  acquireSoon(ruleKey: string, workspaceId: string, maxWaitMs: number): Promise<boolean> {
    if (this.tryAcquire(ruleKey, workspaceId)) return Promise.resolve(true)
    const ruleFull = (this.#running.get(`r:${ruleKey}`) ?? 0) >= this.#perRule
    const still = Date.now() - (this.#movedAt.get(ruleKey) ?? Number.NEGATIVE_INFINITY)
    if (!ruleFull || still > maxWaitMs) return Promise.resolve(false)
    return new Promise((resolve) => {
      const waiter: Waiter = { workspaceId, resolve, timer: undefined }
      waiter.timer = setTimeout(() => this.#settle(ruleKey, waiter, false), maxWaitMs)
      const waiting = this.#waiting.get(ruleKey) ?? []
      waiting.push(waiter)
      this.#waiting.set(ruleKey, waiting)
    })
  }

  #settle(ruleKey: string, waiter: Waiter, acquired: boolean) {
    clearTimeout(waiter.timer)
    const waiting = this.#waiting.get(ruleKey) ?? []
    const at = waiting.indexOf(waiter)
    if (at >= 0) waiting.splice(at, 1)
    if (waiting.length === 0) this.#waiting.delete(ruleKey)
    waiter.resolve(acquired)
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

interface Waiter {
  workspaceId: string
  resolve: (acquired: boolean) => void
  timer: NodeJS.Timeout | undefined
}
