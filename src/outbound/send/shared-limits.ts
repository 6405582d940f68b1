import { hostname } from 'node:os'
import { sql } from 'kysely'
import type { Db } from '../../db/database.js'

/** How often a worker renews its slots and gives back those it no longer uses. */
export const RENEW_MS = 1000
/** How long held slots last unrenewed: a worker killed with -9 frees its slots after this. */
export const SLOT_LEASE_MS = 10_000
/** A worker stops starting sends on slots it has not renewed for this long (a stall, a lost database). */
const TRUST_MS = SLOT_LEASE_MS - 3000
/** Renewals between two sweeps of rows nobody needs (`sweep`). */
const SWEEP_EVERY = 60
/** After a cap refused more slots, how long before this worker asks for that cap again. */
const REFUSED_MS = 100

export interface SlotWant {
  key: string
  /** The cap, across every worker. */
  cap: number
  /** How many this worker would hold. */
  want: number
}

type Logger = { warn(obj: object, msg?: string): void }

/**
 * A worker's share of the concurrency caps, held in PostgreSQL
 * (`send_slot_holds`, migration 0014) so that a cap holds across every
 * worker process. The worker starts sends against the slots it holds with no
 * round trip; it asks for more (`grow`, one statement for every cap that
 * is short, shared by the sends asking at once) only when it runs out, and
 * renews its lease every RENEW_MS, giving back what it is not using then, so
 * other workers may take it.
 */
export class SharedSlots {
  readonly workerId: string
  readonly #db: Db
  readonly #log: Logger | undefined
  /** Slots held per cap key, and until when this worker trusts that it holds them. */
  readonly #held = new Map<string, { n: number; trustedUntil: number }>()
  readonly #refusedUntil = new Map<string, number>()
  #pending = new Map<string, SlotWant>()
  #batch: Promise<void> | undefined
  #inFlight: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  #renewing: Promise<void> | undefined
  /** Round trips to PostgreSQL so far, for the benchmark's cost per delivery. */
  statements = 0

  constructor(db: Db, options: { workerId?: string; log?: Logger } = {}) {
    this.#db = db
    this.#log = options.log
    this.workerId =
      options.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
  }

  /** How many slots of `key` this worker may use now. */
  held(key: string, now = Date.now()): number {
    const held = this.#held.get(key)
    return held && held.trustedUntil > now ? held.n : 0
  }

  /**
   * Asks for more of each cap in `wants` (what this worker would hold). Sends
   * asking at once share one statement; a cap that just refused is not asked
   * again for REFUSED_MS. Never throws: a failure leaves the holdings as they were.
   */
  grow(wants: SlotWant[], now = Date.now()): Promise<void> {
    for (const want of wants) {
      if ((this.#refusedUntil.get(want.key) ?? 0) > now) continue
      const pending = this.#pending.get(want.key)
      if (!pending || pending.want < want.want) this.#pending.set(want.key, want)
    }
    if (this.#pending.size === 0) return Promise.resolve()
    this.#batch ??= this.#nextBatch()
    return this.#batch
  }

  #nextBatch(): Promise<void> {
    const previous = this.#inFlight
    const run = (async () => {
      await previous
      this.#batch = undefined
      const wants = [...this.#pending.values()]
      this.#pending = new Map()
      if (wants.length === 0) return
      const startedAt = Date.now()
      try {
        this.statements++
        const { rows } = await sql<{ key: string; held: number }>`
          select key, held from hookline_hold_slots(
            ${this.workerId}, ${wants.map((w) => w.key)}::text[], ${wants.map((w) => w.cap)}::int[],
            ${wants.map((w) => w.want)}::int[], ${SLOT_LEASE_MS}::int)`.execute(this.#db)
        for (const row of rows) {
          this.#held.set(row.key, { n: row.held, trustedUntil: startedAt + TRUST_MS })
          const want = wants.find((w) => w.key === row.key)
          if (want && row.held < want.want) this.#refusedUntil.set(row.key, startedAt + REFUSED_MS)
          else this.#refusedUntil.delete(row.key)
        }
      } catch (err) {
        this.#log?.warn({ err }, 'shared send limits: asking for slots failed')
        for (const want of wants) this.#refusedUntil.set(want.key, startedAt + REFUSED_MS)
      }
    })()
    this.#inFlight = run
    return run
  }

  /**
   * Renews the lease on what this worker holds, keeping of each cap only
   * what `running(key)` says is in use; the rest goes back. A cap whose lease
   * lapsed meanwhile (others may have taken its slots) is dropped: the next
   * send asks again. Runs in turn with `grow`, never beside it.
   */
  renew(running: (key: string) => number): Promise<void> {
    const previous = this.#inFlight
    const run = (async () => {
      await previous
      const keys: string[] = []
      const keep: number[] = []
      for (const [key, held] of this.#held) {
        const n = Math.min(held.n, running(key))
        keys.push(key)
        keep.push(n)
        // No send starts past what is kept while the statement is on its way:
        // the row must never say less than is in flight.
        held.n = n
      }
      if (keys.length === 0) return
      const startedAt = Date.now()
      this.statements++
      const { rows } = await sql<{ key: string; held: number }>`
        with mine as (
          select u.key, u.keep from unnest(${keys}::text[], ${keep}::int[]) as u(key, keep)
        ),
        renewed as (
          update send_slot_holds h
          set held = mine.keep,
            expires_at = clock_timestamp() + ${SLOT_LEASE_MS}::int * interval '1 millisecond'
          from mine
          where h.worker_id = ${this.workerId} and h.key = mine.key and mine.keep > 0
            and h.expires_at > clock_timestamp()
          returning h.key, h.held
        ),
        released as (
          delete from send_slot_holds h using mine
          where h.worker_id = ${this.workerId} and h.key = mine.key and mine.keep = 0
        )
        select key, held from renewed`.execute(this.#db)
      const renewed = new Map(rows.map((row) => [row.key, row.held]))
      for (const key of keys) {
        const n = renewed.get(key)
        if (n === undefined) this.#held.delete(key)
        else this.#held.set(key, { n, trustedUntil: startedAt + TRUST_MS })
      }
    })()
    this.#inFlight = run.catch(() => {})
    return run
  }

  /**
   * Rows nobody needs: holds of workers long gone (their lease lapsed a
   * minute ago), and buckets untouched for an hour (full again by now: made
   * anew, full, when next used).
   */
  async sweep(): Promise<void> {
    this.statements++
    await sql`
      with holds as (
        delete from send_slot_holds where expires_at < clock_timestamp() - interval '1 minute'
      )
      delete from send_rate_buckets where at < clock_timestamp() - interval '1 hour'`.execute(
      this.#db,
    )
  }

  /** Renews every RENEW_MS until `stop`; sweeps every SWEEP_EVERY renewals. */
  start(running: (key: string) => number): void {
    if (this.#timer) return
    let beats = 0
    this.#timer = setInterval(() => {
      if (this.#renewing) return
      beats++
      this.#renewing = (beats % SWEEP_EVERY === 0 ? this.sweep() : Promise.resolve())
        .then(() => this.renew(running))
        .catch((err: unknown) =>
          this.#log?.warn({ err }, 'shared send limits: renewing the lease failed'),
        )
        .finally(() => {
          this.#renewing = undefined
        })
    }, RENEW_MS)
    this.#timer.unref()
  }

  /** Stops renewing and gives every slot back, for other workers to take at once. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#renewing
    await this.#inFlight
    this.#held.clear()
    await sql`delete from send_slot_holds where worker_id = ${this.workerId}`
      .execute(this.#db)
      .catch(() => {})
  }
}

/**
 * Takes a token from a rule's bucket, shared by every worker
 * (`send_rate_buckets`): 0 when a request may go now, else the milliseconds
 * until a token will be there.
 */
export async function takeSharedToken(
  db: Db,
  key: string,
  perSecond: number,
  burst: number,
): Promise<number> {
  const { rows } = await sql<{ wait: number }>`
    select hookline_take_token(${key}, ${perSecond}::float8, ${burst}::float8) as wait`.execute(db)
  return rows[0]?.wait ?? 0
}
