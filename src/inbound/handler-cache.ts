import { Batcher } from '../db/batcher.js'
import type { Db } from '../db/database.js'
import type { HandlerRow } from '../db/tables/handlers.js'
import type { SecretBox } from '../security/secret-box.js'
import { hashToken } from './endpoint-token.js'
import { findHandlersByTokenHash } from './handler-repository.js'
import { type LoadedHandler, loadHandler } from './loaded-handler.js'

const MAX_FOUND = 20_000
// Unknown tokens are remembered apart and in fewer numbers, so a flood of
// made-up tokens can never push real handlers out of the cache.
const MAX_MISSING = 10_000

/**
 * The public endpoint's view of handlers, by token (the database has only
 * their hashes: a token is hashed for a lookup, not for a hit, so a flood
 * of refused calls costs no hashing). Hits cost nothing;
 * misses (unknown tokens included, so a flood of made-up tokens too) are
 * looked up many at a time in one query. Entries live `ttlMs`: changes made
 * through this process clear the cache at once, other processes see them
 * within that time.
 */
export class HandlerCache {
  readonly #box: SecretBox
  readonly #ttlMs: number
  readonly #found = new Map<string, { handler: LoadedHandler; expires: number }>()
  readonly #missing = new Map<string, number>()
  readonly #pending = new Map<string, Promise<LoadedHandler | null>>()
  readonly #lookup: Batcher<Buffer, HandlerRow | undefined>
  #generation = 0

  constructor(db: Db, box: SecretBox, ttlMs: number) {
    this.#box = box
    this.#ttlMs = ttlMs
    this.#lookup = new Batcher(
      async (hashes) => {
        const rows = await findHandlersByTokenHash(db, hashes)
        const byHash = new Map(rows.map((row) => [row.token_hash.toString('hex'), row]))
        return hashes.map((hash) => byHash.get(hash.toString('hex')))
      },
      { maxBatch: 200, maxConcurrent: 4 },
    )
  }

  /**
   * The handler of a token, null when there is none, or undefined when it
   * is not cached and `mayLookUp` says no: then nothing is asked of the
   * database.
   */
  find(token: string, mayLookUp: () => boolean): Promise<LoadedHandler | null | undefined>
  find(token: string): Promise<LoadedHandler | null>
  find(token: string, mayLookUp?: () => boolean): Promise<LoadedHandler | null | undefined> {
    const key = token
    const now = performance.now()
    const cached = this.#found.get(key)
    if (cached && cached.expires > now) return Promise.resolve(cached.handler)
    if ((this.#missing.get(key) ?? 0) > now) return Promise.resolve(null)
    const pending = this.#pending.get(key)
    if (pending) return pending
    if (mayLookUp && !mayLookUp()) return Promise.resolve(undefined)
    const generation = this.#generation
    const lookup = this.#lookup
      .push(hashToken(token))
      .then((row) => {
        const handler = row ? loadHandler(row, this.#box) : null
        // A change made while the lookup ran may have cleared the cache; do not refill it with the old row.
        if (this.#ttlMs > 0 && generation === this.#generation) this.#remember(key, handler)
        return handler
      })
      .finally(() => {
        if (this.#pending.get(key) === lookup) this.#pending.delete(key)
      })
    this.#pending.set(key, lookup)
    return lookup
  }

  /**
   * What the cache knows of a token without asking anything: its handler,
   * null when it names none, undefined when that is not known here yet.
   */
  peek(token: string): LoadedHandler | null | undefined {
    const key = token
    const now = performance.now()
    const cached = this.#found.get(key)
    if (cached && cached.expires > now) return cached.handler
    if ((this.#missing.get(key) ?? 0) > now) return null
    return undefined
  }

  /** After any change to a handler: its token, state or config may differ now. */
  clear(): void {
    this.#generation++
    this.#found.clear()
    this.#missing.clear()
    this.#pending.clear()
  }

  #remember(key: string, handler: LoadedHandler | null) {
    const expires = performance.now() + this.#ttlMs
    if (handler === null) {
      if (this.#missing.size >= MAX_MISSING) this.#missing.clear()
      this.#missing.set(key, expires)
      return
    }
    if (this.#found.size >= MAX_FOUND) {
      const now = performance.now()
      for (const [k, entry] of this.#found) if (entry.expires <= now) this.#found.delete(k)
      if (this.#found.size >= MAX_FOUND) this.#found.clear()
    }
    this.#found.set(key, { handler, expires })
  }
}
