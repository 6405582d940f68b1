import { type Kysely, sql, type Transaction } from 'kysely'
import type pg from 'pg'
import type { Database } from '../db/database.js'

export interface KindQueueStats {
  /** Live jobs: pending, scheduled or running (not dead). */
  depth: number
  /** Runnable now and not held by a live lease: waiting for a worker. */
  due: number
  dead: number
  /** How long the longest-waiting due job has been runnable; null when none is. */
  oldestDueAgeMs: number | null
}

export interface QueueStats extends KindQueueStats {
  byKind: Record<string, KindQueueStats>
}

interface StatsRow {
  kind: string
  depth: number
  due: number
  dead: number
  oldest_due_age_ms: number | null
}

// One pass over the table: cheap while the queue is healthy (small), still
// only a scan when a backlog builds. Meant for metrics every few seconds.
const text = `
select kind,
  count(*) filter (where dead_at is null)::int as depth,
  count(*) filter (where dead_at is null and greatest(run_at, locked_until) <= now())::int as due,
  count(*) filter (where dead_at is not null)::int as dead,
  (extract(epoch from now() - min(greatest(run_at, locked_until))
    filter (where dead_at is null and greatest(run_at, locked_until) <= now())) * 1000)::float8
    as oldest_due_age_ms
from jobs
group by kind`

/** Depth, due jobs, age of the oldest due job and dead jobs, in total and per kind. */
export async function queueStats(
  db: Kysely<Database> | Transaction<Database>,
): Promise<QueueStats> {
  const { rows } = await sql<StatsRow>`${sql.raw(text)}`.execute(db)
  return summarize(rows)
}

/** The same, over a plain pool (the worker has no Kysely instance). */
export async function queueStatsFromPool(pool: pg.Pool): Promise<QueueStats> {
  const { rows } = await pool.query<StatsRow>(text)
  return summarize(rows)
}

function summarize(rows: StatsRow[]): QueueStats {
  const stats: QueueStats = { depth: 0, due: 0, dead: 0, oldestDueAgeMs: null, byKind: {} }
  for (const row of rows) {
    const age = row.oldest_due_age_ms === null ? null : Math.round(row.oldest_due_age_ms)
    stats.byKind[row.kind] = { depth: row.depth, due: row.due, dead: row.dead, oldestDueAgeMs: age }
    stats.depth += row.depth
    stats.due += row.due
    stats.dead += row.dead
    if (age !== null && (stats.oldestDueAgeMs === null || age > stats.oldestDueAgeMs)) {
      stats.oldestDueAgeMs = age
    }
  }
  return stats
}
