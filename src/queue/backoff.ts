export interface BackoffOptions {
  /** Delay before the second attempt; each later one doubles it. */
  baseMs: number
  /** No retry waits longer than this. */
  maxMs: number
}

export const defaultBackoff: Readonly<BackoffOptions> = Object.freeze({
  baseMs: 1_000,
  maxMs: 60 * 60_000,
})

/**
 * How long to wait before retrying a job whose `attempt`-th run (1-based)
 * failed: exponential, capped, with "equal jitter" (half the step fixed, half
 * random). The jitter spreads out a burst of jobs that failed together, e.g.
 * against one endpoint that went down; the fixed half keeps the schedule from
 * collapsing to near zero.
 */
export function retryDelayMs(
  attempt: number,
  options: BackoffOptions = defaultBackoff,
  random: () => number = Math.random,
): number {
  // Capping the exponent first keeps 2 ** n finite for absurd attempt counts.
  const step = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40))
  return Math.round(step / 2 + (random() * step) / 2)
}
