/** The channel enqueue notifies and workers listen on. */
export const JOBS_CHANNEL = 'hookline_jobs'

/**
 * What one notification says: how many jobs became due now, when the
 * earliest future one is due (epoch ms), and the least and greatest id of
 * the jobs it announces (`first`, `last`), which an idle worker's claim may
 * take by id (WorkerOptions.idleClaim). The first id also keeps two
 * notifications of one transaction from carrying the same text (Postgres
 * would fold them into one and a worker would undercount).
 */
export interface JobsNotification {
  due: number
  next: number | null
  /** Undefined when the notification does not name its jobs (a hand-back). */
  ids?: { first: number; last: number }
  /**
   * A job leased to one worker by the writer that inserted it (see
   * idle-workers.ts): the worker it names runs `job` (a claim's row) at
   * once; to every other worker the notification says nothing.
   */
  lease?: { worker: string; job: unknown }
}

export function parseNotification(payload: string | undefined): JobsNotification {
  try {
    const parsed = JSON.parse(payload ?? '') as {
      due?: unknown
      next?: unknown
      id?: unknown
      last?: unknown
      lease?: unknown
      job?: unknown
    }
    const due = typeof parsed.due === 'number' && parsed.due > 0 ? parsed.due : 0
    const next = typeof parsed.next === 'number' ? parsed.next : null
    if (typeof parsed.lease === 'string' && typeof parsed.job === 'object' && parsed.job) {
      return { due: 0, next: null, lease: { worker: parsed.lease, job: parsed.job } }
    }
    const { id: first, last } = parsed
    // Ids past 2^53 would not survive JSON numbers: such a notification names none.
    if (isId(first) && isId(last) && last >= first) return { due, next, ids: { first, last } }
    return { due, next }
  } catch {
    // Someone else's payload on our channel: treat it as "look once".
    return { due: 1, next: null }
  }
}

const isId = (value: unknown): value is number => Number.isSafeInteger(value)
