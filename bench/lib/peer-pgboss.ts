import PgBoss from 'pg-boss'
import { startTimer } from './stats.js'
import type { Task, TaskResult } from './tasks.js'

// pg-boss 10 has no LISTEN/NOTIFY: workers poll, at most every 0.5 s, and
// each work() loop fetches a batch, hands it to the handler, completes it in
// one statement, then waits out the rest of its polling interval. Throughput
// comes from batchSize and several work() loops (teamSize is gone in v10).
const workers = 4
const batchSize = 1_000
const pollingIntervalSeconds = 0.5
const queue = 'noop'

function boss(url: string) {
  const instance = new PgBoss({ connectionString: url, max: 10, schedule: false })
  instance.on('error', (err) => process.stderr.write(`pg-boss: ${err.message}\n`))
  return instance
}

export async function setup(task: Task): Promise<TaskResult> {
  const b = boss(task.url)
  await b.start()
  await b.createQueue(queue)
  await b.stop({ graceful: true, wait: true })
  return {}
}

export async function bulkEnqueue(
  task: Extract<Task, { name: 'bulkEnqueue' }>,
): Promise<TaskResult> {
  const b = boss(task.url)
  await b.start()
  try {
    const timer = startTimer()
    for (let done = 0; done < task.total; done += task.batch) {
      const size = Math.min(task.batch, task.total - done)
      await b.insert(
        Array.from({ length: size }, (_, i) => ({ name: queue, data: { i: done + i } })),
      )
    }
    return {
      ...timer.stop(),
      conditions: `boss.insert(${task.batch} jobs) per call`,
    }
  } finally {
    await b.stop({ graceful: true, wait: true })
  }
}

export async function drain(task: Extract<Task, { name: 'drain' }>): Promise<TaskResult> {
  const b = boss(task.url)
  await b.start()
  let ran = 0
  let finish = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const timer = startTimer()
  for (let i = 0; i < workers; i++) {
    await b.work(queue, { batchSize, pollingIntervalSeconds }, async (jobs) => {
      ran += jobs.length
      if (ran >= task.total) finish()
    })
  }
  await finished
  const timed = timer.stop()
  await b.stop({ graceful: true, wait: true })
  return {
    ...timed,
    ran,
    conditions: `pg-boss 10: ${workers} work() loops, batchSize ${batchSize}, pollingIntervalSeconds ${pollingIntervalSeconds}, pool 10`,
  }
}
