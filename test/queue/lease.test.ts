import t from 'tap'
import { enqueue, type Job } from '../../src/queue/index.js'
import { testDatabase } from '../helpers/database.js'
import { eventually, jobCount, jobRows, sleep, startWorker } from './helpers.js'

t.test('a job running longer than its lease keeps it (heartbeat)', async (t) => {
  const database = await testDatabase(t, { max: 10 })
  const runs: string[] = []
  const slow = (name: string) => async () => {
    runs.push(name)
    // Four lease lengths: without renewals the other worker would take it.
    await sleep(1_200)
  }
  await startWorker(t, database, { leaseMs: 300, handlers: { slow: slow('a') } })
  await enqueue(database.db, [{ kind: 'slow', payload: null }])
  await eventually(() => runs.length === 1, { what: 'the job to start' })
  const leasedUntil = async () => (await jobRows(database))[0]?.locked_until?.getTime() ?? 0
  const first = await leasedUntil()
  await eventually(async () => (await leasedUntil()) > first, { what: 'a renewal' })
  t.pass('the lease was renewed while the job ran')
  // A second worker, eager to take any job whose lease lapses.
  await startWorker(t, database, { leaseMs: 300, handlers: { slow: slow('b') } })
  await eventually(async () => (await jobCount(database)) === 0, { what: 'completion' })
  t.same(runs, ['a'], 'ran once, by the worker that claimed it')
})

t.test('a worker that lost a lease aborts the job’s signal', async (t) => {
  const database = await testDatabase(t)
  const aborted: unknown[] = []
  await startWorker(t, database, {
    leaseMs: 300,
    handlers: {
      stuck: (job: Job) =>
        new Promise<void>((_, reject) => {
          job.signal.addEventListener('abort', () => {
            aborted.push(job.signal.reason)
            reject(job.signal.reason)
          })
        }),
    },
  })
  await enqueue(database.db, [{ kind: 'stuck', payload: null }])
  await eventually(async () => (await jobRows(database))[0]?.locked_by != null)
  // Another worker took the job over (as if our lease had lapsed and it claimed it).
  await database.pool.query(`update jobs set locked_by = 'thief'`)
  await eventually(() => aborted.length === 1, { what: 'the abort' })
  t.match(aborted[0], { message: 'lease lost' })
  await sleep(100)
  const [row] = await jobRows(database)
  t.match(
    row,
    { locked_by: 'thief', last_error: null },
    'the failure did not touch the thief’s lease',
  )
})
