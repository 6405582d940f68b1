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

/** A mass post as the service leaves it, with `items` records. */
async function seedMassPost(
  pool: pg.Pool,
  workspaceId: string,
  post: { status: string; createdAt: Date; finishedAt?: Date; items: number },
) {
  const id = newId('mp', post.createdAt.getTime())
  const started = post.status === 'draft' ? null : post.createdAt
  await pool.query(
    `insert into mass_posts (id, workspace_id, status, total, dispatched, created_at, started_at,
       finished_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      id,
      workspaceId,
      post.status,
      post.items,
      post.finishedAt ? post.items : 0,
      post.createdAt,
      started,
      post.finishedAt ?? null,
    ],
  )
  await pool.query(
    `insert into mass_post_items (mass_post_id, idx, record)
     select $1, i, jsonb_build_object('entity_type', 'lead', 'entity_id', 'L-' || i)
     from generate_series(0, $2 - 1) as i`,
    [id, post.items],
  )
  return id
}

/** Every kind of mass post: 2 finished before a 30-day cutoff (7 items), 4 that stay (9 items). */
async function seedMassPosts(pool: pg.Pool, workspaceId: string) {
  const old = daysAgo(40)
  await seedMassPost(pool, workspaceId, {
    status: 'posted',
    createdAt: old,
    finishedAt: old,
    items: 5,
  })
  await seedMassPost(pool, workspaceId, {
    status: 'cancelled',
    createdAt: old,
    finishedAt: old,
    items: 2,
  })
  // Old, but still posting or never started: kept.
  await seedMassPost(pool, workspaceId, { status: 'posting', createdAt: old, items: 4 })
  await seedMassPost(pool, workspaceId, { status: 'draft', createdAt: old, items: 3 })
  // Started long ago, finished within the retention (a slow, rate-limited post).
  await seedMassPost(pool, workspaceId, {
    status: 'posted',
    createdAt: old,
    finishedAt: daysAgo(29),
    items: 1,
  })
  await seedMassPost(pool, workspaceId, {
    status: 'posted',
    createdAt: daysAgo(29),
    finishedAt: daysAgo(29),
    items: 1,
  })
}

async function massPostCounts(pool: pg.Pool, workspaceId: string) {
  const { rows } = await pool.query(
    `select
       (select count(*)::int from mass_posts where workspace_id = $1) as posts,
       (select count(*)::int from mass_post_items i join mass_posts p on p.id = i.mass_post_id
        where p.workspace_id = $1) as items,
       (select array_agg(status order by status) from mass_posts where workspace_id = $1) as statuses`,
    [workspaceId],
  )
  return rows[0] as { posts: number; items: number; statuses: string[] }
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
      await seedMassPosts(pool, ws.id)
      // Today's, through the API.
      await createRule(app, ws, ruleBody(`${receiver.url}/x`))
      await postEvent(app, ws, 'lead.created', lead({ name: 'Ada' }))
    }
    const before = await counts(pool, short.id)
    t.same(before, { events: 11, deliveries: 11, attempts: 9, calls: 10 })
    t.same(await counts(pool, long.id), before)
    const massBefore = await massPostCounts(pool, short.id)
    t.match(massBefore, { posts: 6, items: 16 })

    // A batch of 3 makes every table take several statements.
    const purged = await purgeExpiredHistory(database.db, { batchSize: 3 })
    t.same(purged, { deliveries: 7, events: 8, massPosts: 2, calls: 8 })

    t.same(
      await counts(pool, short.id),
      { events: 3, deliveries: 4, attempts: 2, calls: 2 },
      'the 29-day-old rows, today’s and the unfinished delivery stay; attempts went with their deliveries',
    )
    t.same(await counts(pool, long.id), before, 'a year’s retention keeps everything')
    t.same(
      await massPostCounts(pool, short.id),
      { posts: 4, items: 9, statuses: ['draft', 'posted', 'posted', 'posting'] },
      'mass posts finished before the cutoff went with their items; running, draft and recent ones stay',
    )
    t.same(await massPostCounts(pool, long.id), massBefore, 'a year’s retention keeps mass posts')
    const orphans = await pool.query(
      `select count(*)::int as n from mass_post_items i
       where not exists (select from mass_posts p where p.id = i.mass_post_id)`,
    )
    t.equal(orphans.rows[0].n, 0, 'no item outlives its post')
    const oldest = await pool.query(
      `select min(created_at) as at from deliveries where workspace_id = $1 and finished_at is not null`,
      [short.id],
    )
    t.ok(oldest.rows[0].at > daysAgo(30), 'no finished delivery older than the retention is left')

    t.same(
      await purgeExpiredHistory(database.db),
      { deliveries: 0, events: 0, massPosts: 0, calls: 0 },
      'idempotent',
    )
  },
)

t.test('an open delivery that renders from its event keeps the event', async (t) => {
  const { app, database } = await build(t)
  const { pool } = database
  const ws = await createWorkspace(app)
  const at = daysAgo(40)
  const seed = async (record: string | null) => {
    const eventId = newId('evt', at.getTime())
    await pool.query(
      `insert into events (id, workspace_id, type, entity_type, entity_id, fields, created_at)
       values ($1, $2, 'lead.created', 'lead', 'L-1', '{}', $3)`,
      [eventId, ws.id, at],
    )
    await pool.query(
      `insert into deliveries (id, workspace_id, kind, event_id, status, record, max_attempts,
         created_at, updated_at)
       values ($1, $2, 'rule', $3, 'queued', $4, 3, $5, $5)`,
      [newId('dlv', at.getTime()), ws.id, eventId, record, at],
    )
    return eventId
  }
  const reads = await seed(null)
  const own = await seed('{}')
  await purgeExpiredHistory(database.db)
  const left = await pool.query('select id from events where workspace_id = $1', [ws.id])
  t.same(
    left.rows.map((r) => r.id),
    [reads],
    'the event a retrying delivery renders from stays; one whose delivery has its own record goes',
  )
  t.ok(own)
})

t.test('workers run the purge as a recurring job, queued once however many start', async (t) => {
  const testApp = await build(t)
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  const handler = await createHandler(app, ws.auth, handlerBody)
  await seedHistory(database.pool, ws.id, handler.id, daysAgo(31), 3)
  await seedHistory(database.pool, ws.id, handler.id, daysAgo(1), 2)

  await startWorkers(t, testApp)
  await startWorkers(t, testApp)
  // A run queues the next one, an interval ahead, once it has finished.
  const pending = await eventually(async () => {
    const { rows } = await database.pool.query(
      `select run_at from jobs where kind = $1 and dead_at is null`,
      [RETENTION_JOB],
    )
    return rows.length === 1 && rows[0].run_at > new Date() ? rows : undefined
  })
  t.same(await counts(database.pool, ws.id), { events: 2, deliveries: 2, attempts: 2, calls: 2 })
  // Starting again adds none.
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
