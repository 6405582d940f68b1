import type { Db } from '../db/database.js'
import type { JobHandler, QueueLogger } from '../queue/types.js'
import { scheduleRecurring } from '../recurring-jobs.js'
import { ensurePartitions, PARTITION_DAYS_AHEAD } from './partitions.js'

export const PARTITIONS_JOB = 'history.partitions'
export const PARTITIONS_INTERVAL_MS = 60 * 60_000

/**
 * The recurring partition maker: each run creates the history tables' day
 * partitions from today to PARTITION_DAYS_AHEAD days on (most runs find them
 * all there), then queues the next run. A worker starting queues one, which
 * runs at once.
 */
export function partitionJobHandler(db: Db, log: QueueLogger): JobHandler {
  return async (job) => {
    try {
      const made = await ensurePartitions(db, PARTITION_DAYS_AHEAD)
      if (made > 0) log.info({ made }, 'history partitions created ahead')
    } catch (err) {
      // A long query held a history table: the next run tries again.
      if ((err as { code?: string }).code !== '55P03') throw err
      log.warn({ err }, 'history partitions not created: a table stayed locked; next run retries')
    } finally {
      await schedulePartitions(db, {
        runAt: new Date(Date.now() + PARTITIONS_INTERVAL_MS),
        exceptJobId: job.id,
      })
    }
  }
}

/** Queues a run unless one is already pending (see `scheduleRecurring`). */
export async function schedulePartitions(
  db: Db,
  options: { runAt?: Date; exceptJobId?: string } = {},
): Promise<boolean> {
  return scheduleRecurring(db, PARTITIONS_JOB, options)
}
