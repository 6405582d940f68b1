import type { ColumnType, Generated, GeneratedAlways, Selectable } from 'kysely'

/**
 * The job queue's table (migrations/0002_jobs.sql). Write it through
 * src/queue, not directly: enqueue batches and notifies, workers own leases.
 */
export interface JobsTable {
  // int8 arrives as a number (see database.ts); src/queue hands ids out as strings.
  id: GeneratedAlways<number>
  kind: string
  payload: unknown
  workspace_id: string | null
  queue_key: string | null
  run_at: Generated<Date>
  attempts: Generated<number>
  max_attempts: Generated<number>
  /** Concurrency slots the job takes while it runs (migrations/0013_job_weight.sql). */
  weight: Generated<number>
  locked_by: string | null
  locked_until: Date | null
  last_error: string | null
  created_at: ColumnType<Date, never, never>
  dead_at: Date | null
  /** A paused workspace's job: when it was due; run_at is 'infinity' meanwhile (0015). */
  held_run_at: Generated<Date | null>
}

export type JobRow = Selectable<JobsTable>
