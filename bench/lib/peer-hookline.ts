import { connectDatabase } from '../../src/db/database.js'
import { migrate } from '../../src/db/migrate.js'
import { createWorker, enqueue } from '../../src/queue/index.js'
import { startTimer } from './stats.js'
import type { Task, TaskResult } from './tasks.js'

// The same knobs as graphile-worker's recommended fast setup: 24 slots, 500 jobs per fetch.
const concurrency = 24
const batchSize = 500

export async function setup(task: Task): Promise<TaskResult> {
  const database = connectDatabase(task.url, { max: 1 })
  try {
    await migrate(database.pool)
  } finally {
    await database.close()
  }
  return {}
}

export async function bulkEnqueue(
  task: Extract<Task, { name: 'bulkEnqueue' }>,
): Promise<TaskResult> {
  const database = connectDatabase(task.url, { max: 2 })
  try {
    const timer = startTimer()
    for (let done = 0; done < task.total; done += task.batch) {
      const size = Math.min(task.batch, task.total - done)
      await enqueue(
        database.db,
        Array.from({ length: size }, (_, i) => ({ kind: 'noop', payload: { i: done + i } })),
      )
    }
    return {
      ...timer.stop(),
      conditions: `enqueue(db, ${task.batch} jobs): one INSERT … unnest + one pg_notify per call`,
    }
  } finally {
    await database.close()
  }
}

export async function drain(task: Extract<Task, { name: 'drain' }>): Promise<TaskResult> {
  const database = connectDatabase(task.url, { max: 10 })
  let ran = 0
  let finish = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const worker = createWorker({
    pool: database.pool,
    connectionString: task.url,
    concurrency,
    batchSize,
    handlers: {
      noop: async () => {
        if (++ran === task.total) finish()
      },
    },
  })
  const timer = startTimer()
  await worker.start()
  await finished
  const timed = timer.stop()
  await worker.stop()
  const { rows } = await database.pool.query(
    'select count(*)::int as n from jobs where run_at <= now()',
  )
  await database.close()
  if (rows[0].n !== 0) throw new Error(`${rows[0].n} due jobs left after the drain`)
  return {
    ...timed,
    ran,
    conditions: `1 worker, concurrency ${concurrency}, batchSize ${batchSize}, pool 10`,
  }
}

export async function latency(task: Extract<Task, { name: 'latency' }>): Promise<TaskResult> {
  const database = connectDatabase(task.url, { max: 10 })
  const startedAt = new Map<number, number>()
  let waiting: { i: number; resolve: () => void } | undefined
  const worker = createWorker({
    pool: database.pool,
    connectionString: task.url,
    concurrency,
    batchSize,
    handlers: {
      ping: async (job) => {
        const i = (job.payload as { i: number }).i
        startedAt.set(i, performance.now())
        if (waiting?.i === i) waiting.resolve()
      },
    },
  })
  await worker.start()
  // Let the first sweep of the empty table finish: the worker is idle, as in "unloaded".
  await new Promise((resolve) => setTimeout(resolve, 200))
  const samplesMs: number[] = []
  for (let i = 0; i < task.count; i++) {
    const ran = new Promise<void>((resolve) => {
      waiting = { i, resolve }
    })
    const added = performance.now()
    await enqueue(database.db, [{ kind: 'ping', payload: { i } }])
    if (!startedAt.has(i)) await ran
    samplesMs.push(startedAt.get(i)! - added)
  }
  await worker.stop()
  await database.close()
  return {
    samplesMs,
    conditions:
      'enqueue() of one job in its own transaction → handler start, worker idle, same process',
  }
}
