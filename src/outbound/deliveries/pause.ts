import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import { notifyWorkers } from '../../queue/enqueue.js'
import { lockOpenUnderJob } from './delivery-repository.js'
import { DELIVERY_JOB, rescheduleDelivery } from './schedule.js'

/**
 * Switching a workspace's webhooks off is a pause: its rule deliveries wait,
 * queued, and go on when it is switched on again. Their jobs are parked at
 * run_at = 'infinity' with the time they were due in `held_run_at`
 * (migrations/0015_paused_jobs.sql): no claim reaches them, so a paused
 * backlog costs the workers nothing, and switching on puts each back at its
 * own time, so delays go on counting while paused (one due meanwhile goes at
 * once). Notices to the CRM are not rule deliveries and are not paused.
 *
 * The switch and the parking (or unparking) happen in one transaction that
 * holds the workspace row, and a worker parks what it claimed only under a
 * share lock of that row (`holdClaimed`): a job parked is always seen by the
 * next switch-on, never left parked behind it.
 */
export async function applyWebhooksSwitch(
  trx: Db,
  workspaceId: string,
  enabled: boolean,
): Promise<void> {
  if (enabled) await releaseJobs(trx, workspaceId)
  else await holdJobs(trx, workspaceId, 'all')
}

/**
 * Parks the workspace's rule-delivery jobs no worker holds: all of them (at
 * the switch; a pass over the table, as jobs have no workspace index), or
 * those due now (a worker that found the workspace off: the due range of
 * jobs_runnable_idx), or one job. A job a worker or another statement holds is skipped,
 * never waited for; a worker that then runs it finds the switch off and
 * parks its deliveries itself. Rule jobs are the ones with a `queue_key`
 * (their rule); notices' have none.
 */
async function holdJobs(
  db: Db,
  workspaceId: string,
  scope: 'all' | 'due' | { job: string },
): Promise<number> {
  const which =
    scope === 'all'
      ? sql``
      : scope === 'due'
        ? sql`and greatest(run_at, locked_until) <= now()`
        : sql`and id = ${scope.job}::bigint`
  const { rows } = await sql<{ held: number }>`
    with picked as (
      select id from jobs
      where workspace_id = ${workspaceId} and kind = ${DELIVERY_JOB}
        and queue_key is not null and dead_at is null and held_run_at is null
        and (locked_until is null or locked_until <= now()) ${which}
      for update skip locked
    ),
    held as (
      update jobs set held_run_at = run_at, run_at = 'infinity'
      where id = any(array(select id from picked))
      returning id
    )
    select count(*)::int as held from held`.execute(db)
  return rows[0]?.held ?? 0
}

/**
 * Parks one job as a paused workspace's are: a held notice waiting for a CRM
 * callback (held-notices.ts) waits this way too, told apart by having no rule.
 */
export async function parkJob(db: Db, jobId: string): Promise<void> {
  await sql`update jobs set held_run_at = run_at, run_at = 'infinity' where id = ${jobId}::bigint`.execute(
    db,
  )
}

/**
 * Puts every parked rule-delivery job of the workspace back at the time it
 * was due, and wakes the workers. Held notices stay parked (no `queue_key`).
 */
async function releaseJobs(db: Db, workspaceId: string): Promise<void> {
  await sql`
    with released as (
      update jobs set run_at = held_run_at, held_run_at = null
      where workspace_id = ${workspaceId} and held_run_at is not null
        and queue_key is not null
      returning id, run_at
    )
    select ${notifyWorkers} from released`.execute(db)
}

/**
 * A rule delivery claimed (or about to be sent inline) while its workspace
 * is off: it goes back to queued with a job of its own, parked, and the
 * workspace's other due jobs are parked with it, so the workers do not take
 * them one by one. Left alone when it changed meanwhile (cancelled, or run by
 * another job). Switched on meanwhile, the new job simply runs.
 */
export async function holdClaimed(
  db: Db,
  delivery: Pick<DeliveryRow, 'id' | 'workspace_id' | 'rule_id'>,
  jobId: string | null,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const workspace = await trx
      .selectFrom('workspaces')
      .select('webhooks_enabled')
      .where('id', '=', delivery.workspace_id)
      .forShare()
      .executeTakeFirst()
    const current = await lockOpenUnderJob(trx, delivery.id, jobId)
    if (!workspace || !current) return
    const job = await rescheduleDelivery(trx, delivery, new Date())
    if (workspace.webhooks_enabled) return
    // Its own job by id: queued for now on the app's clock, it may not be due on the database's.
    await holdJobs(trx, delivery.workspace_id, { job })
    await holdJobs(trx, delivery.workspace_id, 'due')
  })
}
