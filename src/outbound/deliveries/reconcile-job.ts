import type { Db } from '../../db/database.js'
import type { Job, JobHandler } from '../../queue/types.js'
import { scheduleRecurring } from '../../recurring-jobs.js'
import { failUnsent } from '../send/deliver.js'
import type { DeliveryEngine } from '../send/engine.js'
import {
  type AbandonedDelivery,
  deliveriesOfDeadJobs,
  deliveriesWithoutJob,
} from './abandoned-deliveries.js'

export const RECONCILE_JOB = 'delivery.reconcile'
export const RECONCILE_INTERVAL_MS = 5 * 60_000
/** One run in this many (and the first of a chain) also reads the whole deliveries table. */
export const FULL_SWEEP_EVERY = 12
/** Longer than an inline send (rule timeouts reach 60 s) and a job's lease (default 20 s). */
export const ABANDONED_AFTER_MS = 5 * 60_000

const PAGE = 500
/** A run closes at most this many; the next run goes on. */
const MOST_PER_RUN = 20_000

/**
 * The recurring delivery reconcile: closes, as failed, every open delivery
 * that nothing will send any more, so none stays queued or delivering for
 * good. Every run (each 5 minutes) closes those whose job is dead; every 12th
 * run (hourly), and the first of a chain, also those that name no job at all.
 * Each gets an attempt saying why, and the usual failure notice. Then the next
 * run is queued.
 */
export function reconcileJobHandler(
  engine: DeliveryEngine,
  options: { staleMs?: number } = {},
): JobHandler {
  return async (job: Job) => {
    const run = Number((job.payload as { run?: number } | null)?.run ?? 0)
    try {
      let closed = await closeEach(engine, job, (limit) => deliveriesOfDeadJobs(engine.db, limit))
      if (run % FULL_SWEEP_EVERY === 0) {
        const staleMs = options.staleMs ?? ABANDONED_AFTER_MS
        closed += await closeEach(engine, job, (limit) =>
          deliveriesWithoutJob(engine.db, staleMs, limit),
        )
      }
      if (closed > 0) engine.log.warn({ closed }, 'abandoned deliveries closed as failed')
    } finally {
      await scheduleReconcile(engine.db, {
        runAt: new Date(Date.now() + RECONCILE_INTERVAL_MS),
        exceptJobId: job.id,
        run: run + 1,
      })
    }
  }
}

/** Queues a reconcile unless one is already pending (see `scheduleRecurring`). */
export function scheduleReconcile(
  db: Db,
  options: { runAt?: Date; exceptJobId?: string; run?: number } = {},
): Promise<boolean> {
  const { run = 0, ...rest } = options
  return scheduleRecurring(db, RECONCILE_JOB, { ...rest, payload: { run } })
}

/** Closes what `find` answers, a page at a time, until it answers none. */
async function closeEach(
  engine: DeliveryEngine,
  job: Job,
  find: (limit: number) => Promise<AbandonedDelivery[]>,
): Promise<number> {
  let closed = 0
  while (closed < MOST_PER_RUN && !job.signal.aborted) {
    const page = await find(PAGE)
    let closedNow = 0
    for (const delivery of page) {
      if (await close(engine, delivery)) closedNow++
    }
    closed += closedNow
    // A short page is the last; a full one that closed nothing would come back the same.
    if (page.length < PAGE || closedNow === 0) break
  }
  return closed
}

/**
 * Ends one abandoned delivery failed, with an attempt that says why (nothing
 * of ours leaks: the details are in the service log of the runs that died).
 * The row is read again first, so one changed meanwhile (cancelled, resent)
 * is left alone.
 */
async function close(engine: DeliveryEngine, found: AbandonedDelivery): Promise<boolean> {
  const { runs, id, job_id } = found
  const closed = await failUnsent(
    engine,
    { id, jobId: job_id },
    runs === null
      ? 'gave up: no job was left to send it (the process sending it stopped mid-send)'
      : `gave up: the process sending it stopped (killed, or lost the database) during each of ${runs} runs`,
  )
  if (closed)
    engine.log.warn({ delivery: id, job: job_id, runs }, 'abandoned delivery closed as failed')
  return closed
}
