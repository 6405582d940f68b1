import { type Kysely, sql, type Transaction } from 'kysely'
import type { Database } from '../db/database.js'
import { prepared } from '../db/prepared.js'
import { JOBS_CHANNEL } from './notification.js'
import type { JobSpec } from './types.js'

type Db = Kysely<Database> | Transaction<Database>

/**
 * Adds jobs in one multi-row INSERT and sends one notification, both in the
 * caller's transaction when given one: the jobs exist (and workers wake) only
 * if it commits. Returns the new ids, as strings, in the order given.
 */
export async function enqueue(db: Db, jobs: JobSpec[]): Promise<string[]> {
  if (jobs.length === 0) return []
  const n = jobs.length
  const kinds = new Array<string>(n)
  const payloads = new Array<string>(n)
  const workspaces = new Array<string | null>(n)
  const keys = new Array<string | null>(n)
  const runAts = new Array<number | null>(n)
  const maxAttempts = new Array<number>(n)
  const weights = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const job = jobs[i]!
    kinds[i] = job.kind
    payloads[i] = JSON.stringify(job.payload ?? null)
    workspaces[i] = job.workspaceId ?? null
    keys[i] = job.queueKey ?? null
    // Epoch ms travel as plain numbers: cheaper to send than dates, no time zone to get wrong.
    runAts[i] = job.runAt ? job.runAt.getTime() : null
    maxAttempts[i] = job.maxAttempts ?? 3
    weights[i] = job.weight ?? 1
  }
  const { rows } = await sql<{ ids: string[] }>`${prepared('enqueue')}
    with inserted as (
      insert into jobs (kind, payload, workspace_id, queue_key, run_at, max_attempts, weight)
      select kind, payload, workspace_id, queue_key,
        coalesce(to_timestamp(run_at / 1000.0), now()), max_attempts, weight
      from unnest(
        ${kinds}::text[], ${payloads}::jsonb[], ${workspaces}::text[], ${keys}::text[],
        ${runAts}::float8[], ${maxAttempts}::int[], ${weights}::int[]
      ) as j(kind, payload, workspace_id, queue_key, run_at, max_attempts, weight)
      returning id, run_at
    )
    select array_agg(id order by id)::text[] as ids, ${notifyWorkers}
    from inserted`.execute(db)
  return rows[0]!.ids
}

/**
 * The select-list item that wakes the workers for jobs just inserted, read
 * from a CTE of `(id, run_at)` rows: as an aggregate it runs pg_notify once
 * for the statement (see JobsNotification). It names the least and greatest
 * new id, so an idle worker claims those jobs by id.
 */
export const notifyWorkers = sql`pg_notify(${sql.lit(JOBS_CHANNEL)}, json_build_object(
  'id', min(id),
  'last', max(id),
  'due', count(*) filter (where run_at <= now()),
  'next', (extract(epoch from min(run_at) filter (where run_at > now())) * 1000)::float8
)::text)`

/** Deletes jobs no worker holds right now (pending, scheduled, or dead). Returns how many. */
export async function cancelJobs(db: Db, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0
  const result = await sql`
    delete from jobs
    where id = any(${ids}::bigint[]) and (locked_until is null or locked_until < now())`.execute(db)
  return Number(result.numAffectedRows ?? 0n)
}

/** Deletes the jobs of one group (see JobSpec.queueKey) that no worker holds. Returns how many. */
export async function cancelJobsByQueueKey(db: Db, queueKey: string): Promise<number> {
  const result = await sql`
    delete from jobs
    where queue_key = ${queueKey} and (locked_until is null or locked_until < now())`.execute(db)
  return Number(result.numAffectedRows ?? 0n)
}
