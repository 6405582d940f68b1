// Faults 1 and 2: a worker process killed with SIGKILL after the receiver
// answered but before the outcome was written, and before the send; then a
// random kill in the middle of a stream. Nothing is lost.
import type { ServerResponse } from 'node:http'
import pg from 'pg'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import type { TestDatabase } from '../helpers/database.js'
import { createRule, getDelivery, postEvent, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { deliveryCounts, jobCounts, kill9, postLeads, startService, webhookIds } from './helpers.js'

const worker = { QUEUE_LEASE_MS: '2000' }
const lead = { entity_type: 'lead', entity_id: 'L-1', fields: { lead: { id: 'L-1' } } }

/** Holds a row lock on one delivery from a connection of the test's own. */
async function lockDelivery(database: TestDatabase, id: string) {
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  await client.query('begin')
  await client.query('select 1 from deliveries where id = $1 for update', [id])
  return {
    release: async () => {
      await client.query('rollback')
      await client.end()
    },
  }
}

/**
 * Holds the events table so no one reads it: a job's claim reads its
 * deliveries' events beside them (the claim writes nothing, migrations/0020).
 */
async function lockEvents(database: TestDatabase) {
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  await client.query('begin')
  await client.query('lock table events in access exclusive mode')
  return {
    release: async () => {
      await client.query('rollback')
      await client.end()
    },
  }
}

/** True once some other session of this database waits on a row lock. */
async function someoneWaitsOnALock(database: TestDatabase) {
  const { rows } = await database.pool.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'`,
  )
  return rows[0]!.n > 0
}

async function deliveryRow(database: TestDatabase, id: string) {
  const { rows } = await database.pool.query<{ status: string; attempts: number }>(
    'select status, attempts from deliveries where id = $1',
    [id],
  )
  return rows[0]!
}

t.test('kill -9 after the receiver answered 2xx, before the outcome was written', async (t) => {
  const { app, database } = await build(t)
  let held: ServerResponse | undefined
  const receiver = await startReceiver(t, (_req, res) => {
    held = res
  })
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/hook`))
  const a = startService(t, database.url, worker)

  const {
    deliveries: [id],
  } = await postEvent(app, ws, 'lead.created', lead)
  await receiver.waitFor(1, 60_000)
  // The outcome write (attempt row → key-share lock on the delivery) will wait on this lock.
  const lock = await lockDelivery(database, id!)
  receiver.respondWith((_req, res) => res.writeHead(200).end('ok'))
  held!.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
  await eventually(() => someoneWaitsOnALock(database), 30_000)
  await kill9(a)
  // A statement the dead worker had already sent would still run once the lock
  // goes (a backend waiting on a lock does not look at its socket): end its
  // sessions first, as the server does once it notices the client is gone.
  await database.pool.query(
    `select pg_terminate_backend(pid) from pg_stat_activity
    where datname = current_database() and application_name like 'hookline%'
      and application_name <> 'hookline-test'`,
  )
  await lock.release()

  // Queued: the job's lease, not the row, said it was in flight.
  t.match(await deliveryRow(database, id!), { status: 'queued', attempts: 0 }, 'not recorded')
  t.equal(receiver.received.length, 1)

  const killedAt = Date.now()
  startService(t, database.url, worker)
  await eventually(async () => (await deliveryRow(database, id!)).status === 'succeeded', 60_000)
  t.comment(
    `figures: kill to succeeded ${Date.now() - killedAt} ms (a new process booting included)`,
  )
  t.equal(receiver.received.length, 2, 'sent again')
  t.same([...webhookIds(receiver.received)], [[id, 2]], 'both times with the same webhook-id')
  const delivery = await getDelivery(app, ws, id!)
  t.match(delivery, { status: 'succeeded', attempts: 1, response_status: 200 })
  t.equal(delivery.attempt_history.length, 1, 'one recorded attempt: the one that was written')
  await eventually(async () => (await jobCounts(database)).live === 0, 30_000)
  t.equal((await jobCounts(database)).dead, 0, 'no job left behind, none dead')
})

t.test('kill -9 after the claim, before the send', async (t) => {
  const { app, database } = await build(t)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/hook`))

  const {
    deliveries: [id],
  } = await postEvent(app, ws, 'lead.created', lead)
  // Reading the delivery with its event comes right before the send; it waits on this lock.
  const lock = await lockEvents(database)
  const a = startService(t, database.url, worker)
  await eventually(() => someoneWaitsOnALock(database), 60_000)
  const { rows: leased } = await database.pool.query(
    // Recurring jobs (retention, reconcile) may be running too.
    "select attempts from jobs where locked_by is not null and kind = 'delivery.send'",
  )
  t.same(leased, [{ attempts: 1 }], 'the job was claimed')
  await kill9(a)
  await lock.release()
  t.equal(receiver.received.length, 0, 'nothing was sent')

  const killedAt = Date.now()
  startService(t, database.url, worker)
  await eventually(async () => (await deliveryRow(database, id!)).status === 'succeeded', 60_000)
  t.comment(
    `figures: kill to succeeded ${Date.now() - killedAt} ms (a new process booting included)`,
  )
  t.equal(receiver.received.length, 1, 'sent exactly once, after the lease lapsed')
  t.equal(receiver.received[0]!.headers['webhook-id'], id)
  const delivery = await getDelivery(app, ws, id!)
  t.match(delivery, { status: 'succeeded', attempts: 1 })
  t.equal(delivery.attempt_history.length, 1, 'the attempt count is right')
  await eventually(async () => (await jobCounts(database)).live === 0, 30_000)
  t.equal((await jobCounts(database)).dead, 0)
})

t.test('kill -9 in the middle of a stream: every delivery ends succeeded', async (t) => {
  const { app, database } = await build(t)
  const receiver = await startReceiver(t, (_req, res) => {
    setTimeout(() => res.writeHead(200).end('ok'), 20)
  })
  const ws = await createWorkspace(app)
  // Five rules, so the per-rule cap (a fifth of the slots) does not throttle
  // the stream; their one receiver stands for five, so no host cap either.
  for (let i = 0; i < 5; i++) await createRule(app, ws, ruleBody(`${receiver.url}/r${i}`))
  const ids = await postLeads(app, ws, 100)
  t.equal(ids.length, 500, 'events in: 100 events × 5 rules')

  const slots = { WORKER_CONCURRENCY: '20', WORKER_CONCURRENCY_PER_HOST: '20' }
  const a = startService(t, database.url, { ...worker, ...slots })
  await receiver.waitFor(150, 120_000)
  await kill9(a)
  const atKill = await deliveryCounts(database)
  t.ok(atKill.succeeded < 500, 'killed midway')
  const killedAt = Date.now()
  startService(t, database.url, { ...worker, ...slots })

  await eventually(async () => (await deliveryCounts(database)).succeeded === 500, 120_000)
  const recoveryMs = Date.now() - killedAt
  const counts = await deliveryCounts(database)
  t.match(counts, { succeeded: 500, total: 500 }, 'deliveries finished = events in')
  const seen = webhookIds(receiver.received)
  t.same([...seen.keys()].sort(), [...ids].sort(), 'the receiver saw every delivery id')
  const duplicates = receiver.received.length - seen.size
  t.ok(duplicates <= 20, 'only sends in flight at the kill went out twice (at most the slots)')
  // A first attempt that succeeds is kept in its delivery's row (sent_at set,
  // 0019); any other success is an attempt row.
  const { rows } = await database.pool.query<{ n: number }>(
    `select count(*)::int as n from deliveries d
     where (d.sent_at is not null and d.response_status = 200)::int
       + (select count(*) from delivery_attempts a
          where a.delivery_id = d.id and a.response_status = 200) = 1`,
  )
  t.equal(rows[0]!.n, 500, 'one recorded success per delivery')
  await eventually(async () => (await jobCounts(database)).live === 0, 30_000)
  t.comment(
    `figures: killed after ${atKill.succeeded} recorded (${atKill.delivering} delivering), ${receiver.received.length} requests received, ${duplicates} sent twice; kill to all 500 succeeded ${recoveryMs} ms`,
  )
})
