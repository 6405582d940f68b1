/**
 * When to try a failed delivery again: exponential backoff with full jitter
 * (a uniformly random delay up to the exponential ceiling), which spreads the
 * retries of many deliveries that failed together (a receiver's outage)
 * instead of sending them back in waves.
 *
 * Ceilings are 30 s × 3^(n−1), capped at 24 h: 30 s, 90 s, 4.5 min, 13.5 min,
 * 40.5 min, 2 h, 6 h, 18 h, 24 h. The default of 3 attempts is over within
 * two minutes; the most a rule may ask for, 10, spans about a day on average
 * (half the 51 h sum of the ceilings) and at most about two.
 */

export const DEFAULT_MAX_ATTEMPTS = 3
export const MAX_ATTEMPTS = 10
export const RETRY_BASE_MS = 30_000
export const RETRY_FACTOR = 3
export const RETRY_CAP_MS = 24 * 60 * 60 * 1000
/** A Retry-After further out than this is treated as this. */
export const RETRY_AFTER_CAP_MS = 24 * 60 * 60 * 1000
/** Never retry sooner: a receiver that just failed gets at least a second. */
export const MIN_RETRY_DELAY_MS = 1000

export interface NextRetryInput {
  /** Attempts made so far, the one that just failed included (1 after the first). */
  attempt: number
  /** The rule's limit, 1 to MAX_ATTEMPTS; DEFAULT_MAX_ATTEMPTS when absent. */
  maxAttempts?: number
  /** The failed response's Retry-After, when its status honours one (see `honoursRetryAfter`). */
  retryAfterHeader?: string | null
  now: Date
  /** [0, 1); injectable for tests. */
  random?: () => number
}

/** Milliseconds until the next attempt, or null when the attempts are used up. */
export function nextRetryDelayMs({
  attempt,
  maxAttempts = DEFAULT_MAX_ATTEMPTS,
  retryAfterHeader,
  now,
  random = Math.random,
}: NextRetryInput): number | null {
  const limit = Math.min(Math.max(Math.floor(maxAttempts), 1), MAX_ATTEMPTS)
  if (attempt >= limit) return null
  const retryAfter = retryAfterHeader == null ? null : parseRetryAfter(retryAfterHeader, now)
  if (retryAfter !== null) return Math.max(retryAfter, MIN_RETRY_DELAY_MS)
  const ceiling = retryCeilingMs(attempt)
  return Math.round(MIN_RETRY_DELAY_MS + random() * (ceiling - MIN_RETRY_DELAY_MS))
}

/** The longest delay after the `attempt`-th attempt, before jitter. */
export function retryCeilingMs(attempt: number): number {
  const exponent = Math.max(Math.floor(attempt), 1) - 1
  return Math.min(RETRY_BASE_MS * RETRY_FACTOR ** exponent, RETRY_CAP_MS)
}

/** Retry-After is honoured on 429 Too Many Requests and 503 Service Unavailable. */
export function honoursRetryAfter(status: number): boolean {
  return status === 429 || status === 503
}

// The three HTTP-date forms of RFC 9110 §5.6.7 all start with the day's name.
const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /i

/**
 * A Retry-After value (delay-seconds or an HTTP-date) as milliseconds from
 * `now`, between 0 and RETRY_AFTER_CAP_MS; null when it is neither form.
 */
export function parseRetryAfter(value: string, now: Date): number | null {
  const text = value.trim()
  let ms: number
  if (/^[0-9]+$/.test(text)) {
    ms = Number(text) * 1000
  } else if (HTTP_DATE.test(text)) {
    // asctime dates carry no zone; HTTP dates are always GMT.
    const at = Date.parse(/GMT$/i.test(text) ? text : `${text} GMT`)
    if (Number.isNaN(at)) return null
    ms = at - now.getTime()
  } else {
    return null
  }
  return Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS)
}
