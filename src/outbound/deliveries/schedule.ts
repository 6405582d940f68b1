import { type RawBuilder, sql } from 'kysely'
import { arrayLiteral } from '../../db/array-literal.js'
import type { Db } from '../../db/database.js'
import { withMembers } from '../../db/json-members.js'
import { prepared } from '../../db/prepared.js'
import type { NewDeliveryRow } from '../../db/tables/deliveries.js'
import { enqueue, notifyWorkers } from '../../queue/enqueue.js'
import { perRuleCap } from '../caps.js'

export const DELIVERY_JOB = 'delivery.send'

/**
 * Job runs allowed per delivery attempt. Delivery retries are counted on the
 * delivery itself; the job's own attempts only cover crashes (a worker killed
 * mid-send), so this bound is about how many crashes to survive.
 */
export const JOB_MAX_ATTEMPTS = 5

/**
 * Most deliveries one job sends unless the caller says more (see
 * `deliveriesPerJob`). A job is a row inserted, claimed (an update that moves
 * it in every index of the jobs table) and deleted: shared by ten deliveries,
 * that is a tenth of it each. Not many more: one worker takes the whole job,
 * and a job that dies mid-run sends its unfinished deliveries again.
 */
export const DELIVERIES_PER_JOB = 10

/**
 * Deliveries per job where workers run `workerConcurrency` sends each: as many
 * as one rule may send at once (a fifth, caps.ts), at least ten. A job's
 * deliveries beyond its rule's cap could only wait in the worker for a slot;
 * up to it, a larger worker's jobs are fewer rows to insert, claim and delete
 * (bench:deliver's 250 slots: 50 to a job, about 100 B less WAL per delivery).
 */
export const deliveriesPerJob = (workerConcurrency: number) =>
  Math.max(DELIVERIES_PER_JOB, perRuleCap(workerConcurrency))

export interface PlannedDelivery {
  row: Omit<NewDeliveryRow, 'job_id' | 'next_attempt_at' | 'status'>
  runAt: Date
  /**
   * May go in one job with others of its rule (or, for notices, its
   * workspace) due at the same time. Not for a rule with a rate limit (its
   * sends are spaced job by job) or an open batch (its job must be its own).
   */
  shareJob?: boolean
}

/**
 * Inserts deliveries with the jobs that will send them, in the caller's
 * transaction, so a delivery exists exactly when its job does: one statement
 * for the whole batch. The rows travel as one array per column, expanded by
 * unnest, so the statement's text is the same for every batch size and has
 * no parameter limit; arrays, because a JSON document of the rows (as
 * `plannedJson` makes for the statements that write events or calls beside)
 * is built and parsed twice more (PostgreSQL CPU per 1,000 deliveries: 47-52
 * against 55-59 ms). Like `enqueue`, the statement notifies the workers once.
 */
export async function scheduleDeliveries(
  db: Db,
  planned: PlannedDelivery[],
  perJob = DELIVERIES_PER_JOB,
): Promise<string[]> {
  if (planned.length === 0) return []
  const groups = jobGroups(planned, perJob)
  await sql`${prepared('schedule_deliveries')}
    with planned as (
      select * from ${plannedUnnest(planned, groups)}
    ),
    ${queuePlanned}
    select ${notifyWorkers} from jobs`.execute(db)
  return planned.map((p) => p.row.id)
}

/**
 * Planned deliveries as a from item `p` (PLANNED_COLUMNS, `g` each one's job
 * from `jobGroups`, `n` its place counted from 1): one array per column,
 * expanded by unnest. `more` adds a caller's own columns, arrays of the same
 * length, named in `names`.
 */
export function plannedUnnest(
  planned: PlannedDelivery[],
  groups: number[],
  more?: { arrays: RawBuilder<unknown>; names: string },
) {
  const column = (of: (p: PlannedDelivery) => string | number | boolean | null) =>
    arrayLiteral(planned.map(of))
  return sql`unnest(
        ${column((p) => p.row.id)}::text[], ${column((p) => p.row.workspace_id)}::text[],
        ${column((p) => p.row.rule_id ?? null)}::text[], ${column((p) => p.row.kind)}::text[],
        ${column((p) => p.row.event_id ?? null)}::text[],
        ${column((p) => p.row.event_type ?? null)}::text[],
        ${column((p) => p.row.entity_type ?? null)}::text[],
        ${column((p) => p.row.entity_id ?? null)}::text[],
        ${column((p) => p.row.record ?? null)}::jsonb[],
        ${column((p) => p.row.previous ?? null)}::jsonb[],
        ${column((p) => p.row.max_attempts)}::int[],
        ${column((p) => p.row.batch_open ?? false)}::boolean[],
        ${column((p) => p.row.mass_post_id ?? null)}::text[],
        ${column((p) => p.runAt.getTime())}::float8[], ${arrayLiteral(groups)}::int[]${more ? sql`, ${more.arrays}` : sql``}
      ) with ordinality as p(id, workspace_id, rule_id, kind, event_id, event_type, entity_type,
        entity_id, record, previous, max_attempts, batch_open, mass_post_id, run_at, g${sql.raw(more ? `, ${more.names}` : '')}, n)`
}

/** The column definitions of a `plannedJson` document, for jsonb_to_recordset. */
export const PLANNED_COLUMNS = sql`
  id text, workspace_id text, rule_id text, kind text, event_id text, event_type text,
  entity_type text, entity_id text, record jsonb, previous jsonb, max_attempts int,
  batch_open boolean, mass_post_id text, run_at float8, n int, g int`

/**
 * Which job each planned delivery goes in, as the place in `planned` of the
 * job's first delivery: deliveries that may share a job (`shareJob`) of one
 * workspace, rule and kind, due at the same moment, up to `perJob`
 * to a job, in their order; every other delivery gets a job of its own.
 */
export function jobGroups(planned: PlannedDelivery[], perJob = DELIVERIES_PER_JOB): number[] {
  const groups = new Array<number>(planned.length)
  const open = new Map<string, { first: number; size: number }>()
  for (let n = 0; n < planned.length; n++) {
    const { row, runAt, shareJob } = planned[n]!
    if (!shareJob) {
      groups[n] = n
      continue
    }
    // Ids never hold a line break.
    const key = `${row.workspace_id}\n${row.rule_id ?? ''}\n${row.kind}\n${runAt.getTime()}`
    const group = open.get(key)
    if (group && group.size < perJob) {
      group.size++
      groups[n] = group.first
    } else {
      open.set(key, { first: n, size: 1 })
      groups[n] = n
    }
  }
  return groups
}

/**
 * The insert of `planned`'s rows (alias `p`) as queued deliveries, each with
 * the job `jobId` names; the caller adds the FROM clause.
 */
export function insertQueued(jobId: RawBuilder<unknown>) {
  return sql`insert into deliveries (id, workspace_id, rule_id, kind, event_id, event_type, entity_type,
        entity_id, status, record, previous, max_attempts, next_attempt_at, job_id, batch_open,
        mass_post_id)
      select p.id, p.workspace_id, p.rule_id, p.kind, p.event_id, p.event_type, p.entity_type,
        p.entity_id, 'queued', p.record, p.previous, p.max_attempts,
        to_timestamp(p.run_at / 1000.0), ${jobId}, coalesce(p.batch_open, false), p.mass_post_id`
}

/**
 * Two CTEs, `jobs` and `queued`, that insert the deliveries of a CTE named
 * `planned` (with PLANNED_COLUMNS) and their jobs: one job per group `g`
 * (see `jobGroups`), naming its deliveries in `n` order and weighing as many,
 * then each delivery joined to its job. `jobs` yields `(id, run_at)` for
 * `notifyWorkers`.
 */
export const queuePlanned = sql`
    job_ids as materialized (
      -- In group order (offset 0 keeps the sorted subquery as it is), so a
      -- batch's jobs are numbered, and so claimed, in the order of its events.
      -- The identity's sequence by name, resolved once when the statement is
      -- planned: pg_get_serial_sequence looked it up in the catalogs for each
      -- job (~20 µs of a lone event's write, about a twentieth of it).
      select g, nextval('jobs_id_seq'::regclass) as id
      from (select g from planned group by g order by g offset 0) as groups
    ),
    jobs as (
      insert into jobs (id, kind, payload, workspace_id, queue_key, run_at, max_attempts, weight)
      overriding system value
      select j.id, ${DELIVERY_JOB}, jsonb_build_object('deliveryIds', jsonb_agg(p.id order by p.n)),
        min(p.workspace_id), min(p.rule_id), to_timestamp(min(p.run_at) / 1000.0),
        ${JOB_MAX_ATTEMPTS}::int, count(*)::int
      from planned p join job_ids j on j.g = p.g group by j.id order by j.id
      returning id, run_at
    ),
    queued as (
      ${insertQueued(sql`j.id`)}
      from planned p join job_ids j on j.g = p.g
      order by p.n
    )`

/**
 * A job id drawn from the sequence, as `queuePlanned` draws them (for a lone
 * event's write, events/lease-lone.ts).
 */
export const nextJobId = sql`nextval('jobs_id_seq'::regclass)`

/**
 * Each delivery a `delivery.send` job (alias `job`) sends, as rows of one
 * text column: its `deliveryIds`, or the single `deliveryId` of a job queued
 * before jobs were shared (migrations/0013_job_weight.sql).
 */
export const jobDeliveryIds = (job: string) =>
  sql`jsonb_array_elements_text(coalesce(${sql.ref(job)}.payload -> 'deliveryIds',
    jsonb_build_array(${sql.ref(job)}.payload -> 'deliveryId')))`

/**
 * One planned delivery as JSON (PLANNED_COLUMNS, `n` its place in the batch,
 * `g` its job's, from `jobGroups`); record and previous are spliced in as the
 * JSON text they already are. `extra` adds a caller's own columns.
 */
export function plannedJson(
  { row, runAt }: PlannedDelivery,
  n: number,
  g: number,
  extra?: object,
): string {
  const plain = withMembers(
    JSON.stringify({
      n,
      g,
      id: row.id,
      workspace_id: row.workspace_id,
      rule_id: row.rule_id ?? null,
      kind: row.kind,
      event_id: row.event_id ?? null,
      event_type: row.event_type ?? null,
      entity_type: row.entity_type ?? null,
      entity_id: row.entity_id ?? null,
      max_attempts: row.max_attempts,
      batch_open: row.batch_open ?? false,
      mass_post_id: row.mass_post_id ?? null,
      // Epoch ms: cheaper to send than a date, no time zone to get wrong.
      run_at: runAt.getTime(),
    }),
    extra,
  )
  return `${plain.slice(0, -1)},"record":${row.record ?? 'null'},"previous":${row.previous ?? 'null'}}`
}

/** A new job for an existing delivery's next attempt (retry, resend, deferral); answers its id. */
export async function rescheduleDelivery(
  db: Db,
  delivery: { id: string; workspace_id: string; rule_id: string | null },
  runAt: Date,
): Promise<string> {
  const [jobId] = await enqueue(db, [
    {
      kind: DELIVERY_JOB,
      payload: { deliveryIds: [delivery.id] },
      workspaceId: delivery.workspace_id,
      runAt,
      maxAttempts: JOB_MAX_ATTEMPTS,
      queueKey: delivery.rule_id,
    },
  ])
  await db
    .updateTable('deliveries')
    .set({
      job_id: jobId ?? null,
      next_attempt_at: runAt,
      status: 'queued',
      updated_at: new Date(),
    })
    .where('id', '=', delivery.id)
    .execute()
  return jobId as string
}

/**
 * Puts a queued delivery's attempt off (its rule or workspace is at its cap)
 * with a new job, unless it changed since `jobId` started: a delivery
 * cancelled meanwhile must stay cancelled. Answers whether it was put off.
 * A `delivering` one is put off too: an earlier run of this same job died
 * mid-attempt (worker killed, database cut), and nothing else will send it.
 */
export async function deferDelivery(
  db: Db,
  delivery: { id: string; workspace_id: string; rule_id: string | null },
  jobId: string,
  runAt: Date,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom('deliveries')
      .select('id')
      .where('id', '=', delivery.id)
      .where('status', 'in', ['queued', 'delivering'])
      .where('job_id', '=', Number(jobId))
      .forUpdate()
      .executeTakeFirst()
    if (!current) return false
    await rescheduleDelivery(trx, delivery, runAt)
    return true
  })
}

/**
 * Deletes a cancelled delivery's job when it sends that delivery alone and
 * no worker holds it. A job shared with other deliveries stays: they still
 * go, and it finds this one cancelled and skips it.
 */
export async function cancelSoleJob(db: Db, jobId: string): Promise<void> {
  await sql`
    delete from jobs
    where id = ${jobId}::bigint and weight = 1
      and (locked_until is null or locked_until < now())`.execute(db)
}
