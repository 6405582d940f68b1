import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { DELIVERY_JOB, jobDeliveryIds } from './schedule.js'

/** Whose sends to put off: one rule's (its jobs' `queue_key`) or a whole workspace's. */
export type Backlog = { ruleId: string } | { workspaceId: string }

interface Chunk {
  cutoff: Date
  moved: number
}

/**
 * The tail of both statements below: each open delivery whose job was moved
 * (CTE `moved`: id, payload, run_at) shows the job's new run_at as its
 * next_attempt_at. SKIP LOCKED: a delivery being cancelled or recorded is left alone.
 */
const deliveriesFollow = sql`
  shown as (
    select d.id, m.run_at from moved m
    cross join lateral ${jobDeliveryIds('m')} as e(id)
    join deliveries d on d.id = e.id and d.job_id = m.id
    where d.status in ('queued', 'delivering')
    for update of d skip locked
  ),
  noted as (
    update deliveries d set next_attempt_at = shown.run_at from shown where d.id = shown.id
  )`

/** Jobs moved per statement: a huge backlog moves in several short transactions. */
export const POSTPONE_CHUNK = 10_000

/**
 * Puts off every `delivery.send` job of a rule (or workspace) at its cap that
 * would come due within `delayMs`, to a time spread over [delay, 2 × delay]
 * from now, so the backlog comes back neither all at once nor before a slot
 * can be free. One statement per chunk instead of a claim and a deferral (a
 * new job, a delivery update) per job: while the queue was taking a hanging
 * receiver's 10,000 jobs one by one, other workspaces' jobs waited behind
 * them. Answers how many jobs moved.
 *
 * - The same jobs move (`run_at` only), so each delivery's `job_id` still
 *   names its job; the delivery's `next_attempt_at` follows, so the API shows
 *   when it will go.
 * - Only jobs no worker holds: unleased or with a lease run out, as a claim
 *   would take them. SKIP LOCKED on jobs and deliveries: a job being claimed,
 *   or a delivery being cancelled or recorded meanwhile, is left as it is,
 *   and this statement never waits on a row (a cancel locks its delivery,
 *   then deletes its job: waiting here could deadlock with it).
 * - The due range of jobs_runnable_idx (`greatest(run_at, locked_until)`
 *   below the cut-off, live rows), or jobs_queue_key_idx for a rule: the
 *   planner picks. The cut-off is fixed by the first chunk, so a job moved
 *   (to the cut-off or later) is never taken again by the next.
 * - The queue knows nothing of deliveries; this is outbound's own query over
 *   its own job kind.
 */
export async function postponeBacklog(
  db: Db,
  backlog: Backlog,
  delayMs: number,
  options: { chunk?: number } = {},
): Promise<number> {
  const chunk = options.chunk ?? POSTPONE_CHUNK
  const scope =
    'ruleId' in backlog
      ? sql`queue_key = ${backlog.ruleId}`
      : sql`workspace_id = ${backlog.workspaceId}`
  let cutoff: Date | null = null
  let moved = 0
  for (;;) {
    const { rows }: { rows: Chunk[] } = await sql<Chunk>`
      with bound as (
        select coalesce(${cutoff}::timestamptz, now() + ${delayMs} * interval '1 millisecond') as cutoff
      ),
      picked as materialized (
        select id from jobs
        where dead_at is null
          and greatest(run_at, locked_until) < (select cutoff from bound)
          and (locked_until is null or locked_until <= now())
          and kind = ${DELIVERY_JOB}
          and ${scope}
        limit ${chunk}
        for update skip locked
      ),
      moved as (
        update jobs
        set run_at = (select cutoff from bound) + random() * ${delayMs} * interval '1 millisecond'
        where id = any(array(select id from picked))
        returning id, payload, run_at
      ),
      ${deliveriesFollow}
      select (select cutoff from bound) as cutoff, (select count(*) from moved)::int as moved`.execute(
      db,
    )
    const row: Chunk = rows[0]!
    cutoff = row.cutoff
    moved += row.moved
    if (row.moved < chunk) return moved
  }
}

/**
 * Spaces a rate-limited rule's due backlog at its rate, in one statement: the
 * k-th job due (in the claim's order) runs at `from` + k ÷ `perSecond`
 * seconds. Without it a burst of thousands of events for a 1/s rule cycled
 * through the claim, each job taken and deferred to the next token, one by
 * one, ahead of everyone else's jobs. The same jobs move and deliveries
 * follow, as in `postponeBacklog`; a job a worker holds, or a row locked
 * meanwhile, is left alone. At most `limit` jobs; answers how many sends
 * moved (each job's weight).
 */
export async function spaceRuleBacklog(
  db: Db,
  ruleId: string,
  spacing: { from: Date; perSecond: number },
  options: { limit?: number } = {},
): Promise<number> {
  const stepMs = 1000 / spacing.perSecond
  const { rows } = await sql<{ moved: number }>`
    with picked as materialized (
      select id, weight from jobs
      where dead_at is null
        and greatest(run_at, locked_until) <= now()
        and (locked_until is null or locked_until <= now())
        and kind = ${DELIVERY_JOB}
        and queue_key = ${ruleId}
      order by greatest(run_at, locked_until), id
      limit ${options.limit ?? POSTPONE_CHUNK}
      for update skip locked
    ),
    numbered as (
      -- A job of several deliveries (queued before the rule had its limit) counts as many.
      select id, sum(weight) over (order by id) - weight + 1 as k from picked
    ),
    moved as (
      update jobs j
      set run_at = ${spacing.from}::timestamptz + numbered.k * ${stepMs} * interval '1 millisecond'
      from numbered
      where j.id = numbered.id
      returning j.id, j.payload, j.run_at, j.weight
    ),
    ${deliveriesFollow}
    select (select coalesce(sum(weight), 0) from moved)::int as moved`.execute(db)
  return rows[0]?.moved ?? 0
}
