import type { Db } from '../db/database.js'
import { LruCache } from '../lru-cache.js'
import { authenticateApiKey, hashApiKeyHex } from './api-key-service.js'

// Live keys only: an unknown key is never remembered, so made-up keys cannot
// fill the cache (they cost a look-up each, as before).
const MAX_KEYS = 10_000

/**
 * Which workspace a presented API key opens, remembered `ttlMs` per process,
 * so a CRM calling many times a second costs one look-up a second, not one
 * per call. Revoking a key or deleting a workspace through this process
 * clears it at once; other processes see it within `ttlMs`. Concurrent
 * look-ups of one key share one query.
 */
export class ApiKeyCache {
  readonly #db: Db
  readonly #ttlMs: number
  readonly #found = new LruCache<string, { workspaceId: string; expires: number }>(MAX_KEYS)
  readonly #pending = new Map<string, Promise<string | undefined>>()
  #generation = 0

  constructor(db: Db, ttlMs: number) {
    this.#db = db
    this.#ttlMs = ttlMs
  }

  /**
   * The workspace the key opens, when this process remembers it: answered
   * without a promise, so the common request (a key seen within `ttlMs`)
   * costs one hash and a map look-up. Undefined means "ask `authenticate`".
   */
  remembered(key: string): string | undefined {
    if (this.#ttlMs === 0) return undefined
    const cached = this.#found.get(hashApiKeyHex(key))
    return cached && cached.expires > performance.now() ? cached.workspaceId : undefined
  }

  /** The workspace the key opens, or undefined for unknown and revoked keys. */
  authenticate(key: string): Promise<string | undefined> {
    if (this.#ttlMs === 0) return authenticateApiKey(this.#db, key)
    const hash = hashApiKeyHex(key)
    const cached = this.#found.get(hash)
    if (cached && cached.expires > performance.now()) return Promise.resolve(cached.workspaceId)
    const pending = this.#pending.get(hash)
    if (pending) return pending
    const generation = this.#generation
    const lookup = authenticateApiKey(this.#db, key)
      .then((workspaceId) => {
        // Cleared while the query ran: the answer may predate the change.
        if (workspaceId && generation === this.#generation) {
          this.#found.set(hash, { workspaceId, expires: performance.now() + this.#ttlMs })
        }
        return workspaceId
      })
      .finally(() => {
        if (this.#pending.get(hash) === lookup) this.#pending.delete(hash)
      })
    this.#pending.set(hash, lookup)
    return lookup
  }

  /** After a key is revoked or a workspace deleted: every key is looked up again. */
  clear(): void {
    this.#generation++
    this.#found.clear()
    this.#pending.clear()
  }
}
