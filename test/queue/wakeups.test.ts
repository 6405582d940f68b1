import t, { type Test } from 'tap'
import { connectDatabase } from '../../src/db/database.js'
import { createWorker, enqueue, type Job } from '../../src/queue/index.js'
import { returnJobs } from '../../src/queue/sql/return-jobs.js'
import { testDatabase } from '../helpers/database.js'
import { eventually, sleep, startWorker } from './helpers.js'

t.test('a NOTIFY wakes a sleeping worker, long before its poll would', async (t) => {
  const database = await testDatabase(t)
  const ran: Job[] = []
  const worker = await startWorker(t, database, {
    // Sixty seconds: if the job runs within the test's few seconds, the poll did not run it.
    pollIntervalMs: 60_000,
    handlers: { ping: async (job) => void ran.push(job) },
  })
  await sleep(200)
  const [id] = await enqueue(database.db, [{ kind: 'ping', payload: { hello: 'world' } }])
  await eventually(() => ran.length === 1, { timeoutMs: 5_000, what: 'the job to run' })
  t.match(ran[0], { id, kind: 'ping', payload: { hello: 'world' }, attempt: 1, maxAttempts: 3 })
  t.equal(worker.stats().started, 1)
})

t.test('a notification for one job claims one job, not a batch', async (t) => {
  const database = await testDatabase(t)
  let release = () => {}
  const blocked = new Promise<void>((resolve) => {
    release = resolve
  })
  const started: string[] = []
  t.teardown(() => release())
  await startWorker(t, database, {
    concurrency: 4,
    batchSize: 50,
    handlers: {
      slow: async (job) => {
        started.push(job.id)
        await blocked
      },
    },
  })
  // Let the worker's first look at the (empty) table finish.
  await sleep(300)
  // Ten due jobs the worker was not told about (inserted without a notification)...
  await database.pool.query(
    `insert into jobs (kind, payload) select 'slow', 'null' from generate_series(1, 10)`,
  )
  // ...then one it was told about.
  await enqueue(database.db, [{ kind: 'slow', payload: 'announced' }])
  await eventually(() => started.length === 1, { what: 'the announced job to start' })
  await sleep(200)
  const { rows } = await database.pool.query<{ n: number }>(
    'select count(*)::int as n from jobs where locked_by is not null',
  )
  t.equal(
    rows[0]!.n,
    1,
    'one notified job: one claimed, the rest left for the poll or other workers',
  )
  t.equal(started.length, 1)
  release()
})

t.test('the listener reconnects after pg_terminate_backend and looks once', async (t) => {
  const database = await testDatabase(t)
  const ran: string[] = []
  await startWorker(t, database, {
    listenerApplicationName: 'hookline-queue-listener-test',
    handlers: { ping: async (job) => void ran.push(job.id) },
  })
  const listenerPid = async () => {
    const { rows } = await database.pool.query<{ pid: number }>(
      `select pid from pg_stat_activity
      where application_name = 'hookline-queue-listener-test' and datname = current_database()`,
    )
    return rows.map((r) => r.pid)
  }
  const [before] = await listenerPid()
  t.ok(before, 'the listener has its own connection')
  const { rows } = await database.pool.query<{ ok: boolean }>(
    'select pg_terminate_backend($1) as ok',
    [before],
  )
  t.ok(rows[0]!.ok)
  // A job added while the listener is away: no one hears its notification.
  const [missed] = await enqueue(database.db, [{ kind: 'ping', payload: 'missed' }])
  await eventually(
    async () => {
      const pids = await listenerPid()
      return pids.length === 1 && pids[0] !== before
    },
    { what: 'a new listener connection' },
  )
  // The sweep after reconnecting runs it, not the poll a minute away.
  await eventually(() => ran.includes(missed!), { timeoutMs: 5_000, what: 'the missed job' })

  const [heard] = await enqueue(database.db, [{ kind: 'ping', payload: 'heard' }])
  await eventually(() => ran.includes(heard!), {
    timeoutMs: 5_000,
    what: 'a job after reconnecting',
  })
  t.same(ran, [missed, heard])
})

t.test("an idle worker's claim reads beside the job; a busy one's does not", async (t) => {
  const reads = await twoJobsInARow(t, 'test_idle_claim', { finishing: false })
  t.strictSame(reads.get('first'), { read: 'first' }, 'read in the idle claim')
  t.equal(reads.get('second'), undefined, 'nothing read beside a busy claim')
})

t.test('a job that is only finishing leaves the next claim idle', async (t) => {
  const reads = await twoJobsInARow(t, 'test_idle_claim_finishing', { finishing: true })
  t.strictSame(reads.get('first'), { read: 'first' }, 'the first read in the idle claim')
  t.strictSame(reads.get('second'), { read: 'second' }, 'and the second too')
})

t.test('an idle claim is told the ids its notification announced', async (t) => {
  const database = await testDatabase(t)
  const reads = new Map<string, unknown>()
  await startWorker(t, database, {
    idleClaim: {
      name: 'test_idle_claim_announced',
      announced: true,
      text: `select c.*, jsonb_build_object('from', $5::bigint::text, 'to', $6::bigint::text)
        as claim_read from claim_jobs($1, $2, $3, $4) c`,
    },
    handlers: { ping: async (job) => void reads.set(job.id, job.claimRead) },
  })
  await sleep(300)
  const [id] = await enqueue(database.db, [{ kind: 'ping', payload: null }])
  await eventually(() => reads.has(id!), { what: 'the job to start' })
  t.strictSame(reads.get(id!), { from: id, to: id }, 'the one job it announced')
  // A job handed back by a stopping worker is announced without its ids.
  await database.pool.query(
    `insert into jobs (kind, payload, locked_by, locked_until) values ('ping', 'null', 'gone', now() + interval '1 hour')`,
  )
  const { rows } = await database.pool.query<{ id: string }>(
    `select id::text as id from jobs where locked_by = 'gone'`,
  )
  await returnJobs(database.pool, 'gone', [rows[0]!.id])
  await eventually(() => reads.has(rows[0]!.id), { what: 'the handed-back job to start' })
  t.strictSame(reads.get(rows[0]!.id), { from: null, to: null }, 'claimed as anything due')
})

/**
 * Starts a worker whose idle claim reads each job's `n` beside it, then
 * enqueues a first job, which stays running, and a second: returns what each
 * found in `claimRead`. With `finishing`, the first job says it only has its
 * outcome left to write before it blocks.
 */
async function twoJobsInARow(t: Test, name: string, { finishing }: { finishing: boolean }) {
  const database = await testDatabase(t)
  let release = () => {}
  const blocked = new Promise<void>((resolve) => {
    release = resolve
  })
  t.teardown(() => release())
  const reads = new Map<string, unknown>()
  await startWorker(t, database, {
    concurrency: 4,
    idleClaim: {
      name,
      text: `with claimed as materialized (select * from claim_jobs($1, $2, $3, $4))
        select c.*, jsonb_build_object('read', c.payload -> 'n') as claim_read from claimed c`,
    },
    handlers: {
      ping: async (job) => {
        reads.set((job.payload as { n: string }).n, job.claimRead)
        if (finishing) job.finishing()
        await blocked
      },
    },
  })
  await sleep(300)
  await enqueue(database.db, [{ kind: 'ping', payload: { n: 'first' } }])
  await eventually(() => reads.has('first'), { what: 'the first job to start' })
  // The first job still runs: unless it is finishing, the worker is busy.
  await enqueue(database.db, [{ kind: 'ping', payload: { n: 'second' } }])
  await eventually(() => reads.has('second'), { what: 'the second job to start' })
  return reads
}

/**
 * A worker whose pool has one connection, with a plain idle claim (no read
 * beside it); `started` collects the `n` of each ping job that starts, and
 * `hold` takes the pool's one connection until `release`.
 */
async function onePoolConnectionWorker(t: Test, name: string) {
  const database = await testDatabase(t)
  const workerPool = connectDatabase(database.url, { max: 1, applicationName: 'hookline-test' })
  t.teardown(() => workerPool.close())
  const started: string[] = []
  const worker = createWorker({
    pool: workerPool.pool,
    connectionString: database.url,
    pollIntervalMs: 60_000,
    idleClaim: {
      name,
      text: `with claimed as materialized (select * from claim_jobs($1, $2, $3, $4))
        select c.*, null::jsonb as claim_read from claimed c`,
    },
    handlers: { ping: async (job) => void started.push((job.payload as { n: string }).n) },
  })
  let held: { release(): void } | undefined
  const release = () => {
    held?.release()
    held = undefined
  }
  const hold = async () => {
    held = await workerPool.pool.connect()
  }
  t.teardown(async () => {
    release()
    await worker.stop({ deadlineMs: 0, abortGraceMs: 100 })
  })
  return { database, worker, started, hold, release }
}

t.test(
  'an idle claim waits for no pool connection: it goes out on the LISTEN connection',
  async (t) => {
    const { database, worker, started, hold, release } = await onePoolConnectionWorker(
      t,
      'test_idle_claim_listen',
    )
    await worker.start()
    // The worker's first look at the table (a sweep, through the pool) ends before the pool is taken.
    await sleep(300)
    // The worker's own pool has one connection, which the test takes.
    await hold()
    await enqueue(database.db, [{ kind: 'ping', payload: { n: 'one' } }])
    await eventually(() => started.includes('one'), {
      timeoutMs: 5_000,
      what: 'the job to start while the pool is taken',
    })
    t.strictSame(started, ['one'])
    release()
  },
)

t.test('a sweep under way does not keep a notification from the idle claim', async (t) => {
  const { database, worker, started, hold, release } = await onePoolConnectionWorker(
    t,
    'test_idle_claim_sweep',
  )
  // The pool's one connection is taken before the worker starts: its first
  // look at the table (a sweep) waits for it, and is still under way when
  // the job is announced.
  await hold()
  await worker.start()
  await enqueue(database.db, [{ kind: 'ping', payload: { n: 'one' } }])
  await eventually(() => started.includes('one'), { what: 'the job to start beside the sweep' })
  t.strictSame(started, ['one'])
  release()
})
