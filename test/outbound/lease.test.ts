// A lone event's write leases its job to an idle worker and the NOTIFY
// carries what that worker's attempt reads (migrations/0052, src/queue/
// idle-workers.ts): the worker sends with no claim first. A worker that took
// a lease and died leaves the job to the lease's lapse, like any claim.
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, lead, postEvent, ruleBody, settled } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

const GHOST = 'ghost:1:000000'

interface JobRow {
  locked_by: string | null
  attempts: number
}

t.test("a lone event's job is leased in its write to a live idle worker only", async (t) => {
  const testApp = await build(t)
  const { app, database } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/hook`))
  const jobOf = async (deliveryId: string) => {
    const { rows } = await database.pool.query<JobRow>(
      `select j.locked_by, j.attempts from jobs j join deliveries d on d.job_id = j.id
      where d.id = $1`,
      [deliveryId],
    )
    return rows[0]
  }
  // A worker whose row ran out (it stopped refreshing) is not leased to.
  await database.pool.query(
    `insert into idle_workers (worker_id, kinds, lease_ms, alive_until)
    values ($1, '{delivery.send}', 60000, now() - interval '1 second')`,
    [GHOST],
  )
  const stale = await postEvent(app, ws, 'lead.created', lead({}, 'L-1'))
  t.match(await jobOf(stale.deliveries[0]!), { locked_by: null, attempts: 0 }, 'not leased')

  await database.pool.query(
    `update idle_workers set alive_until = now() + interval '1 hour' where worker_id = $1`,
    [GHOST],
  )
  const leased = await postEvent(app, ws, 'lead.created', lead({}, 'L-2'))
  t.match(await jobOf(leased.deliveries[0]!), { locked_by: GHOST, attempts: 1 }, 'leased')
  const { rows } = await database.pool.query('select * from idle_workers')
  t.equal(rows.length, 0, 'the idle row is taken with the lease')

  // Two jobs for one event: today's path, even with an idle worker known.
  await createRule(app, ws, ruleBody(`${receiver.url}/second`))
  await database.pool.query(
    `insert into idle_workers (worker_id, kinds, lease_ms, alive_until)
    values ($1, '{delivery.send}', 60000, now() + interval '1 hour')`,
    [GHOST],
  )
  const two = await postEvent(app, ws, 'lead.created', lead({}, 'L-3'))
  t.equal(two.deliveries.length, 2)
  for (const id of two.deliveries) {
    t.match(await jobOf(id), { locked_by: null, attempts: 0 }, 'several jobs: not leased')
  }
})

t.test('a job leased to a worker that died is sent once its lease lapses', async (t) => {
  const testApp = await build(t, { queueLeaseMs: 1_000 })
  const { app, database } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/hook`))
  // The worker wrote its row and died before the event came.
  await database.pool.query(
    `insert into idle_workers (worker_id, kinds, lease_ms, alive_until)
    values ($1, '{delivery.send}', 1000, now() + interval '1 hour')`,
    [GHOST],
  )
  const { deliveries } = await postEvent(app, ws, 'lead.created', lead({}, 'L-1'))
  await startWorkers(t, testApp)
  const delivery = await settled(app, ws, deliveries[0]!)
  t.equal(delivery.status, 'succeeded')
  await receiver.waitFor(1)
  t.equal(receiver.received.length, 1, 'sent once')
})

t.test('an idle worker sends a lone event with no claim of its own', async (t) => {
  const testApp = await build(t)
  const { app, database } = testApp
  // Count the calls of the claim functions (new connections see the setting).
  await database.pool.query(`alter database ${database.name} set track_functions = 'pl'`)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/hook`))
  await startWorkers(t, testApp)
  const idleRow = async () =>
    (await database.pool.query('select 1 from idle_workers where alive_until > now()')).rows
      .length === 1
  // The idle claims so far (the jobs a starting worker queues), flushed by
  // ending the backend that made them; the listener connects again.
  const claims = async () => {
    await database.pool.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'hookline-queue-listener'`,
    )
    await eventually(async () => {
      const { rows } = await database.pool.query(
        `select 1 from pg_stat_activity
        where datname = current_database() and application_name = 'hookline-queue-listener'`,
      )
      return rows.length === 1
    })
    const { rows } = await database.pool.query<{ calls: number | null }>(
      `select sum(calls)::int as calls from pg_stat_user_functions
      where funcname = 'claim_delivery_jobs'`,
    )
    return rows[0]!.calls ?? 0
  }
  await eventually(idleRow)
  const aliveUntil = async () =>
    (await database.pool.query<{ at: Date }>('select max(alive_until) as at from idle_workers'))
      .rows[0]!.at
  const offered = await aliveUntil()
  const before = await claims()
  // The worker takes its row back when its listener comes back and offers it
  // again: a lease of the old row, sent while no one listened, would lapse.
  await eventually(async () => {
    const at = await aliveUntil()
    return at !== null && at > offered
  })
  const sent: string[] = []
  for (let i = 0; i < 3; i++) {
    await eventually(idleRow)
    const { deliveries } = await postEvent(app, ws, 'lead.created', lead({}, `L-${i}`))
    sent.push(deliveries[0]!)
    await receiver.waitFor(sent.length)
  }
  for (const id of sent) {
    const delivery = await settled(app, ws, id)
    t.equal(delivery.status, 'succeeded', `${id} succeeded`)
    t.equal(delivery.attempts, 1, `${id} in one attempt`)
  }
  t.equal(await claims(), before, 'no idle claim: the jobs came with their lease')
})
