import type { Db } from '../../db/database.js'
import { SharedSlots, takeSharedToken } from './shared-limits.js'

/**
 * Concurrency caps and rate limits for outbound sends.
 *
 * A receiver that hangs until the timeout must not take every worker slot:
 * each rule (for notices: each workspace's callback) may hold at most
 * `perRule` slots, each destination host `perHost` (several rules, of one
 * workspace or several, may send to one receiver) and each workspace
 * `perWorkspace`. A send over a cap is deferred a little (a new job), so the
 * slot goes to other rules', hosts' and workspaces' jobs — unless the cap's
 * slots come back so fast that one is due within that little while, when it
 * waits in memory for it instead (`acquireSoon`). A cap whose slots are held
 * for long puts the rest of its backlog off with the deferred send
 * (`putOff`), so the queue does not take that backlog job by job only to
 * defer each.
 *
 * Given a database (`shared`, as every worker process has), caps and rate
 * limits hold across every worker on it: a send counts against the slots
 * this process holds of each cap in PostgreSQL (`SharedSlots`), asking for
 * more when it runs short, and takes its rule's token from a bucket there.
 * Without one (the API process's inline sends, unit tests) they hold in this
 * process only.
 */
export class FairnessLimiter {
  readonly #perRule: number
  readonly #perHost: number
  readonly #perWorkspace: number
  readonly #running = new Map<string, number>()
  readonly #buckets = new Map<string, { tokens: number; at: number }>()
  /** How each busy cap's slots have been moving lately, by `r:rule`, `h:host` and `w:workspace`. */
  readonly #pace = new Map<string, Pace>()
  /** When each rate-limited rule's backlog was last spaced, and up to when. */
  readonly #spaced = new Map<string, { at: number; until: number }>()
  /** Until when a rule's or workspace's backlog is already put off, by `r:rule` and `w:workspace`. */
  readonly #putOffUntil = new Map<string, number>()
  /** Sends waiting in memory for a cap's next free slot, oldest first, by the caps' keys. */
  readonly #waiting = new Map<string, Waiter[]>()
  /** Each send's caps, by its rule, host and workspace (see `#caps`). */
  readonly #capsOf = new Map<string, readonly (readonly [key: string, cap: number])[]>()
  /** Caps and buckets in PostgreSQL, shared by every worker; absent, they are this process's. */
  readonly shared: { db: Db; slots: SharedSlots } | undefined

  constructor(options: {
    perRule: number
    perHost: number
    perWorkspace: number
    shared?: { db: Db; log?: { warn(obj: object, msg?: string): void } }
  }) {
    this.#perRule = options.perRule
    this.#perHost = options.perHost
    this.#perWorkspace = options.perWorkspace
    if (options.shared) {
      this.shared = {
        db: options.shared.db,
        slots: new SharedSlots(options.shared.db, { log: options.shared.log }),
      }
    }
  }

  /** Starts renewing the shared slots (a worker's start). */
  start(): void {
    this.shared?.slots.start((key) => this.#running.get(key) ?? 0)
  }

  /** Gives the shared slots back (a worker's stop, once its sends are done). */
  async stop(): Promise<void> {
    await this.shared?.slots.stop()
  }

  /** Takes a slot for the send or answers false when its rule, host or workspace is at its cap. */
  tryAcquire(slot: Slot): boolean {
    if (this.#fullCap(slot)) return false
    this.acquire(slot)
    return true
  }

  /** Takes a slot whatever the caps say (inline sends); release it the same way. */
  acquire(slot: Slot, now = Date.now()): void {
    for (const [key] of this.#caps(slot)) {
      this.#running.set(key, (this.#running.get(key) ?? 0) + 1)
      const pace = this.#pace.get(key) ?? { movedAt: now, starts: [], holdMs: undefined }
      pace.movedAt = now
      pace.starts.push(now)
      this.#pace.set(key, pace)
    }
  }

  release(slot: Slot, now = Date.now()): void {
    const caps = this.#caps(slot)
    for (const [key] of caps) {
      const n = (this.#running.get(key) ?? 1) - 1
      if (n <= 0) this.#running.delete(key)
      else this.#running.set(key, n)
      const pace = this.#pace.get(key)
      if (n <= 0 && !this.#waiting.has(key)) {
        // Idle: forgotten, so the maps hold busy caps only.
        this.#pace.delete(key)
        this.#putOffUntil.delete(key)
      } else if (pace) {
        // Sends mostly finish in the order they started: the oldest start is this one's.
        const held = now - (pace.starts.shift() ?? now)
        pace.holdMs = pace.holdMs === undefined ? held : pace.holdMs * 0.9 + held * 0.1
        pace.movedAt = now
      }
    }
    // The freed slot goes to the oldest send waiting on this rule, else on
    // this host, else on this workspace, that none of its own caps stops.
    for (const [key] of caps) {
      for (const waiter of this.#waiting.get(key) ?? []) {
        if (this.tryAcquire(waiter.slot)) {
          this.#settle(key, waiter, true)
          return
        }
      }
    }
  }

  /**
   * Like `tryAcquire`, but a send that finds its rule (or else its host, or
   * else its workspace) at the cap waits in memory for the next free slot
   * when one is due within `maxWaitMs`. While a cap is full a slot comes back
   * every hold ÷ cap ms (hold: how long its sends have been taking, or the
   * oldest one has been going if that is longer), so the n-th waiter expects
   * one after n × that. With a receiver that answers quickly that is nearly
   * every send, each waiting a few milliseconds instead of paying a deferral
   * through the database. A slow receiver's backlog still mostly defers,
   * which moves its jobs behind other rules' in the queue; a hanging
   * receiver's oldest send only ages, so its sends are deferred at once. A
   * waiter gives up after `maxWaitMs`.
   */
  async acquireSoon(slot: Slot, maxWaitMs: number, now = Date.now()): Promise<boolean> {
    if (this.tryAcquire(slot)) return true
    if (this.shared) {
      // Short of the slots this process holds, not at a cap itself: ask for more.
      const short = this.#caps(slot).filter(
        ([key, cap]) =>
          this.#limit(key, cap) < cap && (this.#running.get(key) ?? 0) >= this.#limit(key, cap),
      )
      if (short.length > 0) {
        await this.shared.slots.grow(
          short.map(([key, cap]) => ({
            key,
            cap,
            // A few more than this send needs, so the next sends do not ask each.
            want: Math.min(
              cap,
              (this.#running.get(key) ?? 0) +
                (this.#waiting.get(key)?.length ?? 0) +
                Math.ceil(cap / 4),
            ),
          })),
        )
        if (this.tryAcquire(slot)) return true
        now = Date.now()
      }
    }
    const full = this.#fullCap(slot)
    if (!full) return false
    const { key, cap } = full
    const pace = this.#pace.get(key)
    if (!pace || now - pace.movedAt > maxWaitMs) return false
    const hold = holdMs(pace, now)
    const ahead = this.#waiting.get(key)?.length ?? 0
    if (((ahead + 1) * hold) / Math.max(1, cap) > maxWaitMs) return false
    return new Promise((resolve) => {
      const waiter: Waiter = { slot, resolve, timer: undefined }
      waiter.timer = setTimeout(() => this.#settle(key, waiter, false), maxWaitMs)
      const waiting = this.#waiting.get(key) ?? []
      waiting.push(waiter)
      this.#waiting.set(key, waiting)
    })
  }

  /**
   * A send found its rule, host or workspace at its cap and goes back to the
   * queue: for how long, and whether that cap's whole backlog should go with it.
   *
   * While the cap's slots come back within about a second (a receiver that
   * answers, however busy), the send is put off by `minMs` as ever and
   * nothing else moves: the backlog flows through the queue at the pace the
   * slots allow. Once they are held longer (a slow or hanging receiver: how
   * long its sends take, or the oldest one has been going if that is longer),
   * most of the cap's jobs taken before a slot frees up would be taken only to
   * be put off again; so the send and the cap's backlog are put off by half
   * that hold (at most `MAX_PUT_OFF_MS`). Half, not all of it: slots that come
   * back meanwhile stay empty until the backlog does (a rule whose receiver
   * takes 1.5 s sent 75% as fast as before when put off by the whole hold,
   * 90% by half). A host's backlog cannot be named in the queue (its jobs
   * know their rule, not where its URL renders to), so a full host puts off
   * the backlog of the send's rule, whose requests go there. A backlog is
   * named at most once per such delay: the jobs it moved come back no sooner.
   */
  putOff(slot: Slot, minMs: number, now = Date.now()): PutOff {
    const full = this.#fullCap(slot)
    const pace = full ? this.#pace.get(full.key) : undefined
    const hold = pace ? holdMs(pace, now) : 0
    if (!full || hold < HELD_MS) return { delayMs: minMs, backlog: null }
    const delayMs = Math.round(Math.max(minMs, Math.min(hold / 2, MAX_PUT_OFF_MS)))
    const ofRule = !full.key.startsWith('w:')
    const target = ofRule ? `r:${slot.rule}` : full.key
    if ((this.#putOffUntil.get(target) ?? 0) > now) return { delayMs, backlog: null }
    this.#putOffUntil.set(target, now + delayMs)
    return { delayMs, backlog: ofRule ? { ruleKey: slot.rule } : { workspaceId: slot.workspace } }
  }

  /**
   * The cap that stops a send: the first full one of its rule, host and
   * workspace. In that order, so the backlog put off is the smallest that
   * holds the trouble: a full host puts off its rule's, not the whole
   * workspace's, which may go to healthy hosts.
   */
  #fullCap(slot: Slot): { key: string; cap: number } | undefined {
    for (const [key, cap] of this.#caps(slot)) {
      const limit = this.#limit(key, cap)
      if ((this.#running.get(key) ?? 0) >= limit) return { key, cap: limit }
    }
    return undefined
  }

  /** The slots of a cap this process may fill: the cap, or what it holds of it when shared. */
  #limit(key: string, cap: number): number {
    return this.shared ? Math.min(cap, this.shared.slots.held(key)) : cap
  }

  /**
   * The caps a send counts against, each by its key, in the order `#fullCap`
   * checks them. A send asks for them when it tries, takes and gives back its
   * slot, and a waiting one each time a slot frees up. Kept per rule, host and
   * workspace, not per send: every send of a rule to a host names its caps by
   * the same strings, each hashed once as a map key. With keys made anew for
   * each send, taking and giving back a slot cost 3.0 µs, not 1.8.
   */
  #caps(slot: Slot): readonly (readonly [key: string, cap: number])[] {
    const id = `${slot.rule}\n${slot.host}\n${slot.workspace}`
    let caps = this.#capsOf.get(id)
    if (!caps) {
      caps = [
        [`r:${slot.rule}`, this.#perRule],
        [`h:${slot.host}`, this.#perHost],
        [`w:${slot.workspace}`, this.#perWorkspace],
      ]
      if (this.#capsOf.size >= CAPS_KEPT) this.#capsOf.clear()
      this.#capsOf.set(id, caps)
    }
    return caps
  }

  /**
   * A send found its rule over its rate limit: whether its due backlog should
   * be spaced at the rate now (at most once a second per rule), and from
   * when: after the jobs spaced last time, so the spacing only grows.
   */
  rateSpacingFrom(ruleKey: string, now = Date.now()): Date | null {
    const spaced = this.#spaced.get(ruleKey)
    if (spaced && now - spaced.at < 1000) return null
    return new Date(Math.max(now, spaced?.until ?? 0))
  }

  /** `moved` jobs were spaced from `from` at `perSecond`. */
  noteSpaced(ruleKey: string, from: Date, moved: number, perSecond: number, now = Date.now()) {
    this.#spaced.set(ruleKey, { at: now, until: from.getTime() + (moved * 1000) / perSecond })
  }

  #settle(key: string, waiter: Waiter, acquired: boolean) {
    clearTimeout(waiter.timer)
    const waiting = this.#waiting.get(key) ?? []
    const at = waiting.indexOf(waiter)
    if (at >= 0) waiting.splice(at, 1)
    if (waiting.length === 0) this.#waiting.delete(key)
    waiter.resolve(acquired)
  }

  /**
   * A rule's token bucket, shared by every worker when the limiter is
   * shared: 0 when a request may go now (and takes a token), else the
   * milliseconds until one will be available.
   */
  takeToken(ruleKey: string, perSecond: number | null): number | Promise<number> {
    if (!perSecond) return 0
    if (!this.shared) return this.rateWaitMs(ruleKey, perSecond)
    return takeSharedToken(this.shared.db, ruleKey, perSecond, rateBurst(perSecond))
  }

  /**
   * Token bucket per rule, in this process: 0 when a request may go now
   * (and takes a token), else the milliseconds until one will be available.
   */
  rateWaitMs(ruleKey: string, perSecond: number | null, now = Date.now()): number {
    if (!perSecond) return 0
    const burst = rateBurst(perSecond)
    const bucket = this.#buckets.get(ruleKey) ?? { tokens: burst, at: now }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond)
    bucket.at = now
    this.#buckets.set(ruleKey, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - bucket.tokens) / perSecond) * 1000)
  }
}

/**
 * What a send counts against: its rule (for notices, `notice:<workspace>`),
 * its workspace, and its destination host (`destinationHost`).
 */
export interface Slot {
  rule: string
  workspace: string
  host: string
}

/**
 * A send's host, for its cap: the rendered URL's hostname (URL lowercases
 * it) and port, the scheme's default filled in, so `https://a.example` and
 * `https://A.example:443` are one host. Two ports of one address are two
 * hosts: two servers, each hanging or not on its own (and undici pools
 * connections by origin too).
 */
export function destinationHost(url: string | URL): string {
  const { hostname, port, protocol } = typeof url === 'string' ? new URL(url) : url
  return `${hostname}:${port || (protocol === 'https:' ? '443' : '80')}`
}

/**
 * A rule's bucket holds half a second's worth of tokens (at least one): a
 * full bucket then a steady stream send at most 10.5 s worth in any 10 s.
 */
export const rateBurst = (perSecond: number) => Math.max(1, perSecond / 2)

/** A cap whose slots are held longer than this puts its backlog off with a deferred send. */
export const HELD_MS = 1000
/** Rule, host and workspace triples whose caps are kept (see `#caps`); past it they are made again. */
const CAPS_KEPT = 10_000
/** The longest delay a backlog is put off by: a receiver that recovers is tried again soon. */
export const MAX_PUT_OFF_MS = 30_000

/** What `putOff` decided: the deferred send's delay, and the backlog to put off with it, if any. */
export interface PutOff {
  delayMs: number
  backlog: { ruleKey: string } | { workspaceId: string } | null
}

/** How long a cap's slots are being held: the usual send, or the oldest still going if longer. */
const holdMs = (pace: Pace, now: number) =>
  Math.max(pace.holdMs ?? 0, now - (pace.starts[0] ?? now))

interface Waiter {
  slot: Slot
  resolve: (acquired: boolean) => void
  timer: NodeJS.Timeout | undefined
}

interface Pace {
  /** When a slot was last taken or given back. */
  movedAt: number
  /** When each slot held now was taken, oldest first. */
  starts: number[]
  /** Moving average of how long a slot is held, in ms. */
  holdMs: number | undefined
}
