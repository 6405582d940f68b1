import type { Test } from 'tap'
import { createWorker } from '../../src/queue/index.js'
import type { Worker, WorkerOptions } from '../../src/queue/types.js'
import type { TestDatabase } from '../helpers/database.js'

/** A started worker on the test's database, stopped when the test ends. */
export async function startWorker(
  t: Test,
  database: TestDatabase,
  options: Omit<WorkerOptions, 'pool' | 'connectionString'>,
): Promise<Worker> {
  const worker = createWorker({
    pool: database.pool,
    connectionString: database.url,
    // Tests prove wake-ups by NOTIFY, timers and reconnects: a poll this slow never helps them.
    pollIntervalMs: 60_000,
    // QUEUE_DEBUG=1 npm test -- test/queue/x.test.ts: the workers' debug log on stderr.
    ...(process.env.QUEUE_DEBUG ? { logger: debugLogger } : {}),
    ...options,
  })
  t.teardown(() => worker.stop({ deadlineMs: 0, abortGraceMs: 100 }))
  await worker.start()
  return worker
}

/**
 * Resolves once `check` is true, checking every few ms; rejects after
 * `timeoutMs`. The bound only keeps a broken test from hanging: tests assert
 * what happened, never how fast.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, what = 'condition' }: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface JobState {
  id: string
  attempts: number
  locked_by: string | null
  locked_until: Date | null
  last_error: string | null
  dead_at: Date | null
  run_at: Date
}

export async function jobRows(database: TestDatabase): Promise<JobState[]> {
  const { rows } = await database.pool.query<JobState>(
    `select id::text as id, attempts, locked_by, locked_until, last_error, dead_at, run_at
    from jobs order by id`,
  )
  return rows
}

export async function jobCount(database: TestDatabase): Promise<number> {
  const { rows } = await database.pool.query<{ n: number }>('select count(*)::int as n from jobs')
  return rows[0]!.n
}

const log = (level: string) => (obj: object, msg?: string) =>
  process.stderr.write(`${Date.now() % 100_000} ${level} ${msg} ${JSON.stringify(obj)}\n`)
const debugLogger = {
  debug: log('debug'),
  info: log('info'),
  warn: log('warn'),
  error: log('error'),
}
