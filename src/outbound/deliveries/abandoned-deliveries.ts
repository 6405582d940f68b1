import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import { DELIVERY_JOB, jobDeliveryIds } from './schedule.js'

/**
 * An open (queued or delivering) delivery that nothing will ever send: its
 * job is dead, or it names no live job at all. `runs` is how many runs its
 * dead job started, null when it has no job.
 */
export type AbandonedDelivery = DeliveryRow & { runs: number | null }

/**
 * Open deliveries whose job is dead. The queue buries a job whose lease ran
 * out during its last run without running it again (a job that kills its
 * worker must not loop), so no handler ever sees it: its delivery would stay
 * open for good. Read from the dead `delivery.send` jobs (few; the jobs table
 * holds only what is pending or dead), each joined to its deliveries by primary
 * key: cheap enough to run every few minutes.
 */
export async function deliveriesOfDeadJobs(db: Db, limit: number): Promise<AbandonedDelivery[]> {
  const { rows } = await sql<AbandonedDelivery>`
    select d.*, j.attempts as runs
    from jobs j
    cross join lateral ${jobDeliveryIds('j')} as m(id)
    join deliveries d on d.id = m.id and d.job_id = j.id
    where j.kind = ${DELIVERY_JOB} and j.dead_at is not null
      and d.status in ('queued', 'delivering')
    limit ${limit}`.execute(db)
  return rows
}

/**
 * Open deliveries, untouched for `staleMs`, that name no live job: none at
 * all (an inline send whose process died mid-send), one that is gone, or a
 * dead one. Deliveries have no index on status (it would cost every status
 * change its HOT update), so this reads the whole table: run it rarely.
 * `staleMs` must outlast an inline send (the longest rule timeout) and a
 * job's lease.
 */
export async function deliveriesWithoutJob(
  db: Db,
  staleMs: number,
  limit: number,
): Promise<AbandonedDelivery[]> {
  const { rows } = await sql<AbandonedDelivery>`
    select d.*, j.attempts as runs
    from deliveries d
    left join jobs j on j.id = d.job_id
    where d.status in ('queued', 'delivering')
      and d.updated_at < now() - ${staleMs} * interval '1 millisecond'
      and (j.id is null or j.dead_at is not null)
    limit ${limit}`.execute(db)
  return rows
}
