import t from 'tap'
import { enqueue, type Job } from '../../src/queue/index.js'
import { claimJobs } from '../../src/queue/sql/claim-jobs.js'
import { testDatabase } from '../helpers/database.js'
import { eventually, jobCount, jobRows, sleep, startWorker } from './helpers.js'

t.test('two workers claiming side by side never run the same job twice', async (t) => {
  const database = await testDatabase(t, { max: 12 })
  const total = 2_000
  await enqueue(
    database.db,
    Array.from({ length: total }, (_, i) => ({ kind: 'work', payload: i })),
  )
  const runs = new Map<string, string[]>()
  const handlerFor = (name: string) => async (job: Job) => {
    runs.set(job.id, [...(runs.get(job.id) ?? []), name])
    // Yield, so both workers hold jobs at the same time.
    await sleep(Math.random() < 0.1 ? 2 : 0)
  }
  const options = { concurrency: 8, batchSize: 40 }
  const [a, b] = await Promise.all([
    startWorker(t, database, { ...options, handlers: { work: handlerFor('a') } }),
    startWorker(t, database, { ...options, handlers: { work: handlerFor('b') } }),
  ])
  await eventually(() => runs.size === total, { what: 'every job to run' })
  await eventually(async () => (await jobCount(database)) === 0, { what: 'completions' })
  const twice = [...runs.values()].filter((by) => by.length > 1)
  t.same(twice, [], 'no job ran twice')
  t.ok(a.stats().succeeded > 0 && b.stats().succeeded > 0, 'both workers took part')
  t.equal(a.stats().succeeded + b.stats().succeeded, total)
})

t.test('a job whose lease expired is claimed again, with its attempt counted', async (t) => {
  const database = await testDatabase(t)
  const [id] = await enqueue(database.db, [{ kind: 'work', payload: null }])
  // A worker that claimed the job, then died: its lease is still live.
  const claimed = await claimJobs(database.pool, {
    workerId: 'dead-worker',
    leaseMs: 60_000,
    limit: 10,
    kinds: ['work'],
  })
  t.same(
    claimed.map((r) => r.id),
    [id],
  )
  const seen: Job[] = []
  const worker = await startWorker(t, database, {
    handlers: { work: async (job) => void seen.push(job) },
  })
  t.same(
    await claimJobs(database.pool, { workerId: 'other', leaseMs: 1, limit: 10, kinds: ['work'] }),
    [],
    'nobody can claim a job under a live lease',
  )
  t.equal(seen.length, 0)

  await database.pool.query(`update jobs set locked_until = now() - interval '1 second'`)
  // The worker sleeps until its next poll (a minute away); an enqueue wakes it for a sweep.
  await enqueue(database.db, [{ kind: 'other', payload: null }])
  await eventually(() => seen.length === 1, { what: 'the job to run again' })
  t.match(seen[0], { id, attempt: 2 })
  await eventually(async () => (await jobRows(database)).every((r) => r.id !== id))
  t.equal(worker.stats().succeeded, 1)
})

t.test('a job whose lease expired during its last attempt is kept as dead', async (t) => {
  const database = await testDatabase(t)
  const [id] = await enqueue(database.db, [{ kind: 'work', payload: null, maxAttempts: 1 }])
  await claimJobs(database.pool, {
    workerId: 'dead-worker',
    leaseMs: 60_000,
    limit: 1,
    kinds: ['work'],
  })
  await database.pool.query(`update jobs set locked_until = now() - interval '1 second'`)
  const again = await claimJobs(database.pool, {
    workerId: 'w',
    leaseMs: 60_000,
    limit: 10,
    kinds: ['work'],
  })
  t.same(again, [], 'not handed out a second time')
  const [row] = await jobRows(database)
  t.match(row, { id, attempts: 1, locked_by: null, last_error: /lease expired/ })
  t.ok(row!.dead_at, 'dead')
})

t.test('the claim reads only due rows, however many future jobs wait', async (t) => {
  const database = await testDatabase(t)
  await database.pool.query(`
    insert into jobs (kind, payload, run_at)
    select 'work', 'null', now() + interval '1 hour' + i * interval '1 second'
    from generate_series(1, 100000) as i`)
  await enqueue(
    database.db,
    Array.from({ length: 50 }, (_, i) => ({ kind: 'work', payload: i })),
  )
  await database.pool.query('analyze jobs')
  const client = await database.pool.connect()
  try {
    await client.query('begin')
    // The generic plan is the one a prepared statement settles on.
    await client.query('set local plan_cache_mode = force_generic_plan')
    await client.query(
      `prepare claim_plan(text[]) as
      select id from jobs
      where dead_at is null and greatest(run_at, locked_until) <= now() and kind = any($1)
      order by greatest(run_at, locked_until), id
      limit 1000 for update skip locked`,
    )
    const { rows } = await client.query(
      `explain (analyze, format json) execute claim_plan('{work}')`,
    )
    await client.query('rollback')
    const plan = JSON.stringify(rows[0]['QUERY PLAN'])
    t.match(plan, /"Index Name":"jobs_runnable_idx"/, 'walks the runnable index')
    t.notMatch(plan, /Seq Scan|"Sort"/, 'no scan of the table, no sort')
    const scan = findNode(rows[0]['QUERY PLAN'][0].Plan, 'Index Scan')
    t.equal(scan?.['Actual Rows'], 50, 'the index scan stops at the last due row')
  } finally {
    client.release()
  }
})

type PlanNode = { 'Node Type': string; 'Actual Rows'?: number; Plans?: PlanNode[] }
function findNode(node: PlanNode, type: string): PlanNode | undefined {
  if (node['Node Type'] === type) return node
  for (const child of node.Plans ?? []) {
    const found = findNode(child, type)
    if (found) return found
  }
  return undefined
}
