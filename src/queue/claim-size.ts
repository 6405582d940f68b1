/** What a worker knows when it decides whether to claim, and how much. */
export interface ClaimState {
  /** Look for any due job: start, poll, timer, reconnect. */
  sweep: boolean
  /** The last searching claim came back full: more are probably due. */
  draining: boolean
  /** Jobs announced by notifications and not yet claimed. */
  demand: number
  /** Claimed and not started, plus rows asked for by claims in flight. */
  held: number
  batchSize: number
}

/**
 * How many rows the next claim should ask for (0: do not claim now).
 *
 * Searching claims take half the buffer at a time, so one claim runs while
 * the jobs of the last are started; an idle worker takes what fits. A
 * notification claims only as many jobs as it announced: one new job wakes
 * one slot, not a batch that would leave other workers idle.
 */
export function claimSize(state: ClaimState): number {
  const room = state.batchSize - state.held
  if (room <= 0) return 0
  const chunk = Math.max(1, Math.floor(state.batchSize / 2))
  if (state.sweep || state.draining) {
    return room >= chunk || state.held === 0 ? Math.min(room, chunk) : 0
  }
  return Math.min(state.demand, room)
}
