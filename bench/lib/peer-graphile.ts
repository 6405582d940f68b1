import { makeWorkerUtils, run, runMigrations } from 'graphile-worker'
import { startTimer } from './stats.js'
import type { Task, TaskResult } from './tasks.js'

// The configuration of graphile-worker's own performance page
// (worker.graphile.org/docs/performance): 24 concurrent jobs, a pool of 25,
// a local queue of 500 and batched completion/failure.
const concurrency = 24
const options = {
  concurrency,
  maxPoolSize: 25,
  noHandleSignals: true,
  logger: undefined,
  preset: {
    worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
  },
}
const conditions = `graphile-worker ${await version()}: concurrency ${concurrency}, maxPoolSize 25, localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0`

async function version(): Promise<string> {
  const { createRequire } = await import('node:module')
  return createRequire(import.meta.url)('graphile-worker/package.json').version
}

const quiet = {
  // graphile-worker logs every job at debug and its start-up at info: keep the printout readable.
  scope: () => quiet,
  error: (message: string) => process.stderr.write(`graphile: ${message}\n`),
  warn: () => {},
  info: () => {},
  debug: () => {},
}

export async function setup(task: Task): Promise<TaskResult> {
  await runMigrations({ connectionString: task.url, logger: quiet as never })
  return {}
}

export async function bulkEnqueue(
  task: Extract<Task, { name: 'bulkEnqueue' }>,
): Promise<TaskResult> {
  const utils = await makeWorkerUtils({ connectionString: task.url, logger: quiet as never })
  try {
    const timer = startTimer()
    for (let done = 0; done < task.total; done += task.batch) {
      const size = Math.min(task.batch, task.total - done)
      await utils.addJobs(
        Array.from({ length: size }, (_, i) => ({ identifier: 'noop', payload: { i: done + i } })),
      )
    }
    return {
      ...timer.stop(),
      conditions: `workerUtils.addJobs(${task.batch} jobs) per call`,
    }
  } finally {
    await utils.release()
  }
}

export async function drain(task: Extract<Task, { name: 'drain' }>): Promise<TaskResult> {
  let ran = 0
  let finish = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const timer = startTimer()
  const runner = await run({
    ...options,
    connectionString: task.url,
    logger: quiet as never,
    taskList: {
      noop: async () => {
        if (++ran === task.total) finish()
      },
    },
  })
  await finished
  const timed = timer.stop()
  await runner.stop()
  return { ...timed, ran, conditions }
}

export async function latency(task: Extract<Task, { name: 'latency' }>): Promise<TaskResult> {
  const startedAt = new Map<number, number>()
  let waiting: { i: number; resolve: () => void } | undefined
  const runner = await run({
    ...options,
    connectionString: task.url,
    logger: quiet as never,
    taskList: {
      ping: async (payload) => {
        const i = (payload as { i: number }).i
        startedAt.set(i, performance.now())
        if (waiting?.i === i) waiting.resolve()
      },
    },
  })
  const utils = await makeWorkerUtils({ connectionString: task.url, logger: quiet as never })
  await new Promise((resolve) => setTimeout(resolve, 200))
  const samplesMs: number[] = []
  for (let i = 0; i < task.count; i++) {
    const ran = new Promise<void>((resolve) => {
      waiting = { i, resolve }
    })
    const added = performance.now()
    await utils.addJob('ping', { i })
    if (!startedAt.has(i)) await ran
    samplesMs.push(startedAt.get(i)! - added)
  }
  await utils.release()
  await runner.stop()
  return { samplesMs, conditions }
}
