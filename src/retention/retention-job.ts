import type { Db } from '../db/database.js'
import type { JobHandler, QueueLogger } from '../queue/types.js'
import { scheduleRecurring } from '../recurring-jobs.js'
import { type PurgeOptions, purgeHistory, purgeIdempotencyKeys } from './purge-history.js'

export const RETENTION_JOB = 'retention.purge'
export const RETENTION_INTERVAL_MS = 60 * 60_000

/**
 * The recurring purge: each run drops the day partitions past every
 * workspace's retention and deletes what else has outlived its workspace's,
 * then makes sure the next run is queued. A worker starting also makes sure
 * one is queued, so the chain survives a run that died.
 */
export function retentionJobHandler(
  db: Db,
  log: QueueLogger,
  options: Pick<PurgeOptions, 'batchSize'> = {},
): JobHandler {
  return async (job) => {
    try {
      const { rows: purged, partitions } = await purgeHistory(db, {
        ...options,
        signal: job.signal,
      })
      const idempotencyKeys = await purgeIdempotencyKeys(db)
      log.info({ purged, partitions, idempotencyKeys }, 'retention purge done')
    } finally {
      await scheduleRetention(db, {
        runAt: new Date(Date.now() + RETENTION_INTERVAL_MS),
        exceptJobId: job.id,
      })
    }
  }
}

/** Queues a purge unless one is already pending (see `scheduleRecurring`). */
export async function scheduleRetention(
  db: Db,
  options: { runAt?: Date; exceptJobId?: string } = {},
): Promise<boolean> {
  return scheduleRecurring(db, RETENTION_JOB, options)
}
