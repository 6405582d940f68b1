import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { enqueue, type Job } from '../../src/queue/index.js'
import { testDatabase } from '../helpers/database.js'
import { eventually, jobCount, jobRows, sleep, startWorker } from './helpers.js'

t.test('a graceful stop loses nothing and hands back unstarted jobs at once', async (t) => {
  const database = await testDatabase(t, { max: 10 })
  const total = 200
  const ids = await enqueue(
    database.db,
    Array.from({ length: total }, (_, i) => ({ kind: 'work', payload: i })),
  )
  const runs = new Map<string, string[]>()
  const handler = (name: string) => async (job: Job) => {
    await sleep(5)
    runs.set(job.id, [...(runs.get(job.id) ?? []), name])
  }
  const a = await startWorker(t, database, {
    concurrency: 4,
    batchSize: 20,
    handlers: { work: handler('a') },
  })
  await eventually(() => a.stats().succeeded >= 40, { what: 'a to be midway' })
  await a.stop({ deadlineMs: 10_000 })
  t.match(a.stats(), { running: 0, buffered: 0, failed: 0 })
  const left = await jobRows(database)
  t.equal(left.length, total - a.stats().succeeded, 'every finished job was deleted')
  t.ok(left.length > 0, 'a stopped midway')
  t.same(
    left.filter((r) => r.locked_by !== null || r.attempts !== 0),
    [],
    'the rest are unleased, their claim attempt undone',
  )

  await startWorker(t, database, {
    concurrency: 4,
    batchSize: 20,
    handlers: { work: handler('b') },
  })
  await eventually(async () => (await jobCount(database)) === 0, { what: 'b to drain the rest' })
  t.same([...runs.keys()].sort(), [...ids].sort(), 'every job ran')
  t.same(
    [...runs.entries()].filter(([, by]) => by.length !== 1),
    [],
    'each exactly once',
  )
})

t.test('at the stop deadline running jobs are aborted and run again elsewhere', async (t) => {
  const database = await testDatabase(t)
  const a = await startWorker(t, database, {
    handlers: {
      stuck: (job) =>
        new Promise<void>((_, reject) => {
          job.signal.addEventListener('abort', () => reject(job.signal.reason))
        }),
    },
  })
  const [id] = await enqueue(database.db, [{ kind: 'stuck', payload: null }])
  await eventually(() => a.stats().running === 1, { what: 'the job to start' })
  await a.stop({ deadlineMs: 50 })
  const [row] = await jobRows(database)
  t.match(row, { id, attempts: 1, locked_by: null, dead_at: null, last_error: /worker stopping/ })

  const again: Job[] = []
  await startWorker(t, database, { handlers: { stuck: async (job) => void again.push(job) } })
  await eventually(() => again.length === 1, { what: 'the cut job to run again' })
  t.match(again[0], { id, attempt: 2 })
})

t.test('a killed worker’s jobs run again elsewhere once their leases lapse', async (t) => {
  const database = await testDatabase(t)
  const ids = await enqueue(
    database.db,
    Array.from({ length: 20 }, (_, i) => ({ kind: 'work', payload: i })),
  )
  const child = fork(
    fileURLToPath(new URL('./fixtures/crash-worker.ts', import.meta.url)),
    [database.url],
    {
      execArgv: ['--import', 'tsx'],
      stdio: 'inherit',
    },
  )
  t.teardown(() => void child.kill('SIGKILL'))
  const startedInChild = new Set<string>()
  child.on('message', (m: { started?: string }) => {
    if (m.started) startedInChild.add(m.started)
  })
  await eventually(() => startedInChild.size === 5, {
    timeoutMs: 20_000,
    what: 'the child to start 5 jobs',
  })
  const leased = async () => (await jobRows(database)).filter((r) => r.locked_by !== null).length
  await eventually(async () => (await leased()) >= 10, { what: 'the child to fill its buffer' })
  t.pass('the child holds running and buffered jobs')
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))

  const runs = new Map<string, Job>()
  await startWorker(t, database, {
    concurrency: 10,
    batchSize: 20,
    handlers: { work: async (job) => void runs.set(job.id, job) },
  })
  await eventually(() => runs.size === 20, { what: 'every job to run' })
  t.same([...runs.keys()].sort(), [...ids].sort(), 'none lost')
  for (const id of startedInChild) t.equal(runs.get(id)?.attempt, 2, `job ${id}: second attempt`)
  await eventually(async () => (await jobCount(database)) === 0, { what: 'completions' })
})

t.test('a worker that offers itself idle deletes its row when it stops', async (t) => {
  const database = await testDatabase(t)
  const worker = await startWorker(t, database, {
    acceptLeases: true,
    handlers: { ping: async () => {} },
  })
  const rows = async () =>
    (
      await database.pool.query<{ kinds: string[] }>(
        'select kinds from idle_workers where worker_id = $1 and alive_until > now()',
        [worker.id],
      )
    ).rows
  await eventually(async () => (await rows()).length === 1, { what: 'the idle row' })
  t.strictSame((await rows())[0]!.kinds, ['ping'], 'offered for the kinds it runs')
  await worker.stop()
  t.equal((await rows()).length, 0, 'no row left behind')
})
