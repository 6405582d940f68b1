import type pg from 'pg'
import t from 'tap'
import { newId } from '../../src/ids.js'
import { newCallId } from '../../src/inbound/call-ids.js'
import { purgeExpiredHistory } from '../../src/retention/purge-history.js'
import {
  RETENTION_INTERVAL_MS,
  RETENTION_JOB,
  scheduleRetention,
} from '../../src/retention/retention-job.js'
import { build, createWorkspace, operator, startWorkers } from '../helpers/app.js'
import { createHandler } from '../helpers/inbound.js'
import { createRule, lead, postEvent, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

const DAY = 86_400_000
const daysAgo = (days: number) => new Date(Date.now() - days * DAY)

/** History rows as the service writes them, dated `at` (ids made from the same time). */
async function seedHistory(
  pool: pg.Pool,
  workspaceId: string,
  handlerId: string,
  at: Date,
  count: number,
  deliveryStatus: 'succeeded' | 'queued' = 'succeeded',
) {
  for (let i = 0; i < count; i++) {
    const eventId = newId('evt', at.getTime())
    await pool.query(
      `insert into events (id, workspace_id, type, entity_type, entity_id, fields, created_at)
       values ($1, $2, 'lead.created', 'lead', $3, '{}', $4)`,
      [eventId, workspaceId, `L-${i}`, at],
    )
    const deliveryId = newId('dlv', at.getTime())
    const finished = deliveryStatus === 'succeeded'
    await pool.query(
      `insert into deliveries (id, workspace_id, kind, event_id, status, record, attempts,
         max_attempts, created_at, updated_at, finished_at)
       values ($1, $2, 'notice', $3, $4, '{}', $5, 3, $6, $6, $7)`,
      [
        deliveryId,
        workspaceId,
        eventId,
        deliveryStatus,
        finished ? 1 : 0,
        at,
        finished ? at : null,
      ],
    )
    if (finished) {
      await pool.query(
        `insert into delivery_attempts (delivery_id, workspace_id, attempt, request, duration_ms, created_at)
         values ($1, $2, 1, '{}', 12, $3)`,
        [deliveryId, workspaceId, at],
      )
    }
    await pool.query(
      `insert into inbound_calls (id, workspace_id, handler_id, method, headers, query, body_size,
         source_address, received_at, outcome, finished_at)
       values ($1, $2, $3, 'POST', '{}', '{}', 0, '127.0.0.1', $4, 'accepted', $4)`,
      [newCallId(at), workspaceId, handlerId, at],
    )
  }
}

async function counts(pool: pg.Pool, workspaceId: string) {
  const one = async (table: string) =>
    Number(
      (await pool.query(`select count(*) from ${table} where workspace_id = $1`, [workspaceId]))
        .rows[0].count,
    )
  return {
    events: await one('events'),
    deliveries: await one('deliveries'),
    attempts: await one('delivery_attempts'),
    calls: await one('inbound_calls'),
  }
}

const handlerBody = {
  title: 'Form',
  parameters: [{ name: 'email', type: 'email', required: true }],
  mapping: [{ source: 'email', target: 'lead.email' }],
}

t.test(
  'history older than each workspace’s retention goes, in batches; the rest stays',
  async (t) => {
    const { app, database } = await build(t)
    const { pool } = database
    const receiver = await startReceiver(t)
    const short = await createWorkspace(app, 'Thirty days') // the default, 30
    const long = await createWorkspace(app, 'A year')
    const patched = await app.inject({
      method: 'PATCH',
      url: `/operator/workspaces/${long.id}`,
      headers: operator,
      payload: { retention_days: 365 },
    })
    t.equal(patched.statusCode, 200, patched.body)

    for (const ws of [short, long]) {
      const handler = await createHandler(app, ws.auth, handlerBody)
      await seedHistory(pool, ws.id, handler.id, daysAgo(40), 7) // past 30 days, within 365
      await seedHistory(pool, ws.id, handler.id, daysAgo(29), 2) // within both
      // Old, but still retrying: kept until it finishes.
      await seedHistory(pool, ws.id, handler.id, daysAgo(40), 1, 'queued')
      // Today's, through the API.
      await createRule(app, ws, ruleBody(`${receiver.url}/x`))
      await postEvent(app, ws, 'lead.created', lead({ name: 'Ada' }))
    }
    const before = await counts(pool, short.id)
    t.same(before, { events: 11, deliveries: 11, attempts: 9, calls: 10 })
    t.same(await counts(pool, long.id), before)

    // A batch of 3 makes every table take several statements.
    const purged = await purgeExpiredHistory(database.db, { batchSize: 3 })
    t.same(purged, { deliveries: 7, events: 8, calls: 8 })

    t.same(
      await counts(pool, short.id),
      { events: 3, deliveries: 4, attempts: 2, calls: 2 },
      'the 29-day-old rows, today’s and the unfinished delivery stay; attempts went with their deliveries',
    )
    t.same(await counts(pool, long.id), before, 'a year’s retention keeps everything')
    const oldest = await pool.query(
      `select min(created_at) as at from deliveries where workspace_id = $1 and finished_at is not null`,
      [short.id],
    )
    t.ok(oldest.rows[0].at > daysAgo(30), 'no finished delivery older than the retention is left')

    t.same(
      await purgeExpiredHistory(database.db),
      { deliveries: 0, events: 0, calls: 0 },
      'idempotent',
    )
  },
)

t.test('workers run the purge as a recurring job, queued once however many start', async (t) => {
  const testApp = await build(t)
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  const handler = await createHandler(app, ws.auth, handlerBody)
  await seedHistory(database.pool, ws.id, handler.id, daysAgo(31), 3)
  await seedHistory(database.pool, ws.id, handler.id, daysAgo(1), 2)

  await startWorkers(t, testApp)
  await startWorkers(t, testApp)
  await eventually(async () => (await counts(database.pool, ws.id)).events === 2)
  t.same(await counts(database.pool, ws.id), { events: 2, deliveries: 2, attempts: 2, calls: 2 })

  // The run queued the next one, an interval ahead; starting again adds none.
  const pending = await eventually(async () => {
    const { rows } = await database.pool.query(
      `select run_at from jobs where kind = $1 and dead_at is null`,
      [RETENTION_JOB],
    )
    return rows.length === 1 && rows[0].run_at > new Date() ? rows : undefined
  })
  t.ok(pending[0].run_at.getTime() > Date.now() + RETENTION_INTERVAL_MS / 2, 'next run is later')
  const again = await Promise.all([1, 2, 3, 4].map(() => scheduleRetention(database.db)))
  t.same(again, [false, false, false, false])
  const { rows } = await database.pool.query(
    `select count(*)::int as n from jobs where kind = $1`,
    [RETENTION_JOB],
  )
  t.equal(rows[0].n, 1)
})

t.test('concurrent schedulers queue exactly one purge', async (t) => {
  const { database } = await build(t)
  const results = await Promise.all([1, 2, 3, 4, 5].map(() => scheduleRetention(database.db)))
  t.equal(results.filter(Boolean).length, 1)
})
