import t from 'tap'
import {
  enqueue,
  type Job,
  PermanentJobError,
  PutOffJobError,
  RetryJobError,
} from '../../src/queue/index.js'
import { testDatabase } from '../helpers/database.js'
import { eventually, jobRows, startWorker } from './helpers.js'

t.test('a delayed job runs at its time, not before', async (t) => {
  const database = await testDatabase(t)
  const starts: number[] = []
  const worker = await startWorker(t, database, {
    handlers: { later: async () => void starts.push(Date.now()) },
  })
  const runAt = new Date(Date.now() + 1_500)
  await enqueue(database.db, [{ kind: 'later', payload: null, runAt }])
  // The poll is a minute away: the timer set from the notification's `next` runs it.
  await eventually(() => starts.length === 1, { what: 'the delayed job' })
  t.ok(starts[0]! >= runAt.getTime(), 'not before its run_at')
  t.equal(worker.stats().succeeded, 1)
})

t.test('failures retry on the backoff schedule and end dead, with the error kept', async (t) => {
  const database = await testDatabase(t)
  const starts: number[] = []
  const backoff = { baseMs: 100, maxMs: 10_000 }
  const worker = await startWorker(t, database, {
    backoff,
    handlers: {
      flaky: async (job) => {
        starts.push(Date.now())
        throw new Error(`endpoint answered 503 on attempt ${job.attempt}`)
      },
    },
  })
  const [id] = await enqueue(database.db, [{ kind: 'flaky', payload: null, maxAttempts: 3 }])
  await eventually(async () => (await jobRows(database))[0]?.dead_at != null, { what: 'death' })
  const [row] = await jobRows(database)
  t.match(row, {
    id,
    attempts: 3,
    locked_by: null,
    last_error: 'Error: endpoint answered 503 on attempt 3',
  })
  t.equal(starts.length, 3, 'three attempts, then no more')
  // Equal jitter: the wait after attempt n is at least half of baseMs * 2^(n-1).
  t.ok(starts[1]! - starts[0]! >= 50, 'waited after the first failure')
  t.ok(starts[2]! - starts[1]! >= 100, 'waited longer after the second')
  t.match(worker.stats(), { started: 3, succeeded: 0, failed: 3, byKind: { flaky: { failed: 3 } } })
})

t.test('RetryJobError sets the delay (Retry-After); PermanentJobError ends the job', async (t) => {
  const database = await testDatabase(t)
  const runs: { job: Job; at: number }[] = []
  await startWorker(t, database, {
    // A schedule this slow would never bring the job back within the test.
    backoff: { baseMs: 600_000, maxMs: 600_000 },
    handlers: {
      limited: async (job) => {
        runs.push({ job, at: Date.now() })
        if (job.attempt === 1) throw new RetryJobError('429 Too Many Requests', { delayMs: 1_000 })
      },
      gone: async () => {
        throw new PermanentJobError('410 Gone')
      },
    },
  })
  const [limited, gone] = await enqueue(database.db, [
    { kind: 'limited', payload: null },
    { kind: 'gone', payload: null, maxAttempts: 10 },
  ])
  await eventually(() => runs.length === 2, { what: 'the second attempt' })
  t.ok(runs[1]!.at - runs[0]!.at >= 1_000, 'not before the requested delay')
  t.equal(runs[1]!.job.attempt, 2)
  await eventually(async () => (await jobRows(database)).length === 1, { what: 'completion' })
  const [row] = await jobRows(database)
  t.not(row!.id, limited)
  t.match(row, { id: gone, attempts: 1, last_error: 'PermanentJobError: 410 Gone' })
  t.ok(row!.dead_at, 'dead after one attempt of ten')
})

t.test('PutOffJobError runs the job again later without spending an attempt', async (t) => {
  const database = await testDatabase(t)
  const runs: { job: Job; at: number }[] = []
  await startWorker(t, database, {
    backoff: { baseMs: 600_000, maxMs: 600_000 },
    handlers: {
      // Its one attempt is put off twice, then it runs: a put-off is not a failure.
      waits: async (job) => {
        runs.push({ job, at: Date.now() })
        if (runs.length < 3) throw new PutOffJobError(300)
      },
    },
  })
  const [id] = await enqueue(database.db, [{ kind: 'waits', payload: null, maxAttempts: 1 }])
  await eventually(() => runs.length === 3, { what: 'the third run' })
  t.same(
    runs.map((run) => run.job.attempt),
    [1, 1, 1],
    'every run is the first attempt',
  )
  t.same(
    runs.map((run) => run.job.id),
    [id, id, id],
    'the same job each time',
  )
  t.ok(runs[1]!.at - runs[0]!.at >= 300, 'not before the delay')
  await eventually(async () => (await jobRows(database)).length === 0, { what: 'completion' })
})

t.test('a dead job is never claimed again', async (t) => {
  const database = await testDatabase(t)
  await enqueue(database.db, [{ kind: 'work', payload: null }])
  await database.pool.query('update jobs set dead_at = now()')
  let ran = 0
  const worker = await startWorker(t, database, { handlers: { work: async () => void ran++ } })
  // A notification for a second job makes the worker claim; the dead one must stay put.
  await enqueue(database.db, [{ kind: 'work', payload: 'live' }])
  await eventually(() => worker.stats().succeeded === 1)
  await eventually(async () => (await jobRows(database)).length === 1, { what: 'completion' })
  t.equal(ran, 1)
  t.ok((await jobRows(database))[0]!.dead_at, 'the dead job is kept for inspection')
})
