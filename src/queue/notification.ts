/** The channel enqueue notifies and workers listen on. */
export const JOBS_CHANNEL = 'hookline_jobs'

/**
 * What one notification says: how many jobs became due now, and when the
 * earliest future one is due (epoch ms). Enqueue also sends the first new id,
 * only so two notifications in one transaction never carry the same text
 * (Postgres would fold them into one and a worker would undercount).
 */
export interface JobsNotification {
  due: number
  next: number | null
}

export function parseNotification(payload: string | undefined): JobsNotification {
  try {
    const parsed = JSON.parse(payload ?? '') as { due?: unknown; next?: unknown }
    const due = typeof parsed.due === 'number' && parsed.due > 0 ? parsed.due : 0
    const next = typeof parsed.next === 'number' ? parsed.next : null
    return { due, next }
  } catch {
    // Someone else's payload on our channel: treat it as "look once".
    return { due: 1, next: null }
  }
}
