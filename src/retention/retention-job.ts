import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import { enqueue } from '../queue/index.js'
import type { JobHandler, QueueLogger } from '../queue/types.js'
import { type PurgeOptions, purgeExpiredHistory } from './purge-history.js'

export const RETENTION_JOB = 'retention.purge'
export const RETENTION_INTERVAL_MS = 60 * 60_000

/**
 * The recurring purge: each run deletes what has outlived its workspace's
 * retention, then makes sure the next run is queued. A worker starting also
 * makes sure one is queued, so the chain survives a run that died.
 */
export function retentionJobHandler(
  db: Db,
  log: QueueLogger,
  options: Pick<PurgeOptions, 'batchSize'> = {},
): JobHandler {
  return async (job) => {
    try {
      const purged = await purgeExpiredHistory(db, { ...options, signal: job.signal })
      log.info({ purged }, 'retention purge done')
    } finally {
      await scheduleRetention(db, {
        runAt: new Date(Date.now() + RETENTION_INTERVAL_MS),
        exceptJobId: job.id,
      })
    }
  }
}

/**
 * Queues a purge unless one is already pending. Several workers start at once
 * in a scale-out, so the check and the insert run under one advisory lock:
 * exactly one of them queues it.
 */
export async function scheduleRetention(
  db: Db,
  options: { runAt?: Date; exceptJobId?: string } = {},
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${RETENTION_JOB}))`.execute(trx)
    const pending = await trx
      .selectFrom('jobs')
      .select('id')
      .where('kind', '=', RETENTION_JOB)
      .where('dead_at', 'is', null)
      .$if(options.exceptJobId !== undefined, (q) =>
        q.where('id', '<>', Number(options.exceptJobId)),
      )
      .limit(1)
      .executeTakeFirst()
    if (pending) return false
    await enqueue(trx, [
      { kind: RETENTION_JOB, payload: {}, ...(options.runAt ? { runAt: options.runAt } : {}) },
    ])
    return true
  })
}
