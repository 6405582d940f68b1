import type pg from 'pg'
import type { BackoffOptions } from './backoff.js'

/** One job to enqueue. */
export interface JobSpec {
  /** Which handler runs it, e.g. `delivery.send`. */
  kind: string
  /** Stored as jsonb; keep it small (ids, not documents). */
  payload: unknown
  workspaceId?: string | null
  /** Not before this time; default now. */
  runAt?: Date
  /** Runs allowed before the job is kept as dead; default 3. */
  maxAttempts?: number
  /** Optional grouping key (e.g. a rule id) to find or cancel a group's jobs later. */
  queueKey?: string | null
  /**
   * How many of a worker's concurrency slots the job takes while it runs: a
   * job that does several pieces of work at once weighs as many; default 1.
   */
  weight?: number
}

/** What a handler receives: one run of one job. */
export interface Job {
  /** bigint, as a string. */
  id: string
  kind: string
  payload: unknown
  workspaceId: string | null
  /** 1-based number of this run. */
  attempt: number
  maxAttempts: number
  queueKey: string | null
  /** Concurrency slots the job takes (JobSpec.weight). */
  weight: number
  /**
   * One piece of a weighted job is done: its slot goes back to the worker now,
   * not when the whole job settles, so a straggling piece does not hold the
   * slots of the ones that finished. Calls past the weight are ignored.
   */
  pieceDone(): void
  /**
   * The handler is past the work an idle claim reads ahead for
   * (WorkerOptions.idleClaim): what is left is writing its outcome. A
   * notification that finds every running job finishing still gets the idle
   * claim, rather than a plain one and a second round trip for its reads.
   */
  finishing(): void
  /** Aborted when the worker's stop deadline passes or the worker lost the lease. */
  signal: AbortSignal
  /**
   * What the worker's idle claim read beside this job (WorkerOptions.idleClaim);
   * undefined when the job was claimed by the plain statement.
   */
  claimRead?: unknown
}

/**
 * Runs one job. Resolving completes it (the row is deleted); throwing fails
 * this attempt: `RetryJobError` may set the delay, `PermanentJobError` ends it
 * at once, anything else retries on the backoff schedule.
 */
export type JobHandler = (job: Job) => Promise<void>

/** The subset of pino's API the queue uses. */
export interface QueueLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  isLevelEnabled?(level: string): boolean
}

export interface WorkerOptions {
  pool: pg.Pool
  /** For the dedicated LISTEN connection, which must live outside the pool. */
  connectionString: string
  handlers: Record<string, JobHandler>
  /** Jobs run at once, each counted by its weight; default 10. */
  concurrency?: number
  /**
   * Most jobs claimed in one statement and held, not yet started, in the local
   * buffer, counted in slots (by weight); default `concurrency`. Raise it for
   * many short jobs; keep it low for slow ones, or this worker hoards jobs
   * other workers could run.
   */
  batchSize?: number
  /** Lease length; renewed every third of it while a job is held. Default 20 s. */
  leaseMs?: number
  /** Fallback poll when no notification comes; default 2 s. */
  pollIntervalMs?: number
  /** Longest wait before completions and failures are written in bulk; default 2 ms. */
  flushDelayMs?: number
  backoff?: BackoffOptions
  /** Unique per worker; default host:pid:random. */
  workerId?: string
  /** application_name of the LISTEN connection; default `hookline-queue-listener`. */
  listenerApplicationName?: string
  logger?: QueueLogger
  /** How often to log worker and queue figures at debug level; default 60 s, 0 = never. */
  statsLogIntervalMs?: number
  /**
   * The statement to claim with when a notification finds the worker idle
   * (nothing buffered or being claimed, and nothing running but jobs that
   * called `finishing()`) and announces at most a few
   * jobs: it must return the rows of `claim_jobs($1, $2, $3, $4)`, each with a
   * `claim_read` column its handler finds in `job.claimRead`. The handler's
   * first reads then ride on the claim's round trip instead of following it.
   * A busy worker claims with the plain statement: its handlers' reads are
   * batched across jobs instead. It runs on the worker's LISTEN connection
   * (when that is up), so it must suit a direct connection.
   */
  idleClaim?: IdleClaim
  /**
   * Offer this worker to writers while it is idle (src/queue/idle-workers.ts,
   * migrations/0052): it writes its row when nothing runs, is buffered or
   * being claimed, keeps it alive while idle, deletes it on stop, and runs
   * the jobs leased to it from their notification, with no claim.
   */
  acceptLeases?: boolean
}

/** A named statement (prepared once per connection); see WorkerOptions.idleClaim. */
export interface IdleClaim {
  name: string
  text: string
  /**
   * The statement takes two more parameters, `$5` and `$6` (bigint): the
   * least and greatest id the notifications heard since the worker's last
   * claim announced, or both null when one of them named no ids (a hand-back)
   * or the worker claims for jobs announced earlier. Given a span, the claim
   * should take only due, free jobs in it (by id, SKIP LOCKED), since those
   * are what woke the worker; without one, what `claim_jobs` takes.
   */
  announced?: boolean
}

export interface KindCounters {
  started: number
  succeeded: number
  failed: number
}

export interface WorkerStats extends KindCounters {
  running: number
  buffered: number
  byKind: Record<string, KindCounters>
}

export interface StopOptions {
  /** How long running jobs may take to finish before their signals abort; default 10 s. */
  deadlineMs?: number
  /** After aborting, how long to wait for handlers to settle; default 1 s. */
  abortGraceMs?: number
}

export interface Worker {
  readonly id: string
  start(): Promise<void>
  stop(options?: StopOptions): Promise<void>
  stats(): WorkerStats
}
