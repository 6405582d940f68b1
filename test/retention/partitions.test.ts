import type pg from 'pg'
import t from 'tap'
import { newId } from '../../src/ids.js'
import { newCallId } from '../../src/inbound/call-ids.js'
import { PARTITIONS_JOB } from '../../src/retention/partition-job.js'
import {
  DAY_MS,
  dayStart,
  daySuffix,
  dropExpiredPartitions,
  ensurePartitions,
} from '../../src/retention/partitions.js'
import { purgeHistory } from '../../src/retention/purge-history.js'
import { build, createWorkspace, operator, startWorkers } from '../helpers/app.js'
import { createHandler } from '../helpers/inbound.js'
import { eventually } from '../helpers/receiver.js'

const TABLES = ['events', 'inbound_calls', 'deliveries', 'delivery_attempts']
const today = dayStart(new Date())
const dayOf = (offset: number) => new Date(today.getTime() + offset * DAY_MS)

async function partitionOf(pool: pg.Pool, table: string, id: string) {
  const key = table === 'delivery_attempts' ? 'delivery_id' : 'id'
  const { rows } = await pool.query(
    `select tableoid::regclass::text as part from ${table} where ${key} = $1`,
    [id],
  )
  return rows.map((r) => r.part as string)
}

async function exists(pool: pg.Pool, name: string) {
  const { rows } = await pool.query('select to_regclass($1) is not null as found', [name])
  return rows[0].found as boolean
}

/** One event, delivery (with an attempt) and inbound call made at `at`; answers their ids. */
async function seedDay(
  pool: pg.Pool,
  workspaceId: string,
  handlerId: string,
  at: Date,
  options: { open?: boolean; batchRecord?: boolean } = {},
) {
  const eventId = newId('evt', at.getTime())
  await pool.query(
    `insert into events (id, workspace_id, type, entity_type, entity_id, fields, created_at)
     values ($1, $2, 'lead.created', 'lead', 'L-1', '{}', $3)`,
    [eventId, workspaceId, at],
  )
  const deliveryId = newId('dlv', at.getTime())
  await pool.query(
    `insert into deliveries (id, workspace_id, kind, event_id, status, record, attempts,
       max_attempts, created_at, updated_at, finished_at)
     values ($1, $2, 'notice', $3, $4, '{}', 1, 3, $5, $5, $6)`,
    [
      deliveryId,
      workspaceId,
      eventId,
      options.open ? 'queued' : 'succeeded',
      at,
      options.open ? null : at,
    ],
  )
  await pool.query(
    `insert into delivery_attempts (delivery_id, workspace_id, attempt, request, duration_ms, created_at)
     values ($1, $2, 1, '{}', 12, $3)`,
    [deliveryId, workspaceId, at],
  )
  if (options.batchRecord) {
    await pool.query(
      `insert into delivery_batch_records (delivery_id, workspace_id, entity_id) values ($1, $2, 'L-2')`,
      [deliveryId, workspaceId],
    )
  }
  const callId = newCallId(at)
  await pool.query(
    `insert into inbound_calls (id, workspace_id, handler_id, method, headers, query, body_size,
       source_address, received_at, outcome, finished_at)
     values ($1, $2, $3, 'POST', '{}', '{}', 0, '127.0.0.1', $4, 'accepted', $4)`,
    [callId, workspaceId, handlerId, at],
  )
  return { eventId, deliveryId, callId }
}

const handlerBody = {
  title: 'Form',
  parameters: [{ name: 'email', type: 'email', required: true }],
  mapping: [{ source: 'email', target: 'lead.email' }],
}

t.test(
  'a worker creates the days ahead, and a day made late takes its rows from the default',
  async (t) => {
    const testApp = await build(t)
    const { app, database } = testApp
    const { pool } = database
    const ws = await createWorkspace(app)
    const handler = await createHandler(app, ws.auth, handlerBody)
    // Days 5 to 7 ahead missing, as if no worker had run for days; a row for day 6 comes anyway.
    for (const offset of [5, 6, 7]) {
      for (const table of TABLES) await pool.query(`drop table ${table}${daySuffix(dayOf(offset))}`)
    }
    const early = await seedDay(pool, ws.id, handler.id, new Date(dayOf(6).getTime() + 3_600_000))
    t.same(await partitionOf(pool, 'events', early.eventId), ['events_default'])
    t.same(await partitionOf(pool, 'delivery_attempts', early.deliveryId), [
      'delivery_attempts_default',
    ])

    await startWorkers(t, testApp)
    await startWorkers(t, testApp)
    await eventually(async () => {
      for (const table of TABLES) {
        if (!(await exists(pool, `${table}${daySuffix(dayOf(7))}`))) return false
      }
      return true
    })
    for (const table of TABLES) {
      for (const offset of [0, 1, 2, 3, 4, 5, 6, 7]) {
        t.ok(await exists(pool, `${table}${daySuffix(dayOf(offset))}`), `${table} day +${offset}`)
      }
    }
    const suffix = daySuffix(dayOf(6))
    t.same(await partitionOf(pool, 'events', early.eventId), [`events${suffix}`])
    t.same(await partitionOf(pool, 'deliveries', early.deliveryId), [`deliveries${suffix}`])
    t.same(await partitionOf(pool, 'delivery_attempts', early.deliveryId), [
      `delivery_attempts${suffix}`,
    ])
    t.same(await partitionOf(pool, 'inbound_calls', early.callId), [`inbound_calls${suffix}`])
    const event = await app.inject({ url: `/v1/events/${early.eventId}`, headers: ws.auth })
    t.equal(event.statusCode, 200, 'the moved event reads through the API')

    // The next run is queued an interval ahead, once however many workers started.
    const { rows } = await pool.query(
      `select count(*)::int as n from jobs where kind = $1 and dead_at is null`,
      [PARTITIONS_JOB],
    )
    t.equal(rows[0].n, 1)
  },
)

t.test(
  'retention drops the days past every workspace’s horizon, and deletes rows only past a shorter one',
  async (t) => {
    const { app, database } = await build(t)
    const { pool } = database
    const long = await createWorkspace(app, 'Thirty days') // the default, 30
    const short = await createWorkspace(app, 'Five days')
    const patched = await app.inject({
      method: 'PATCH',
      url: `/operator/workspaces/${short.id}`,
      headers: operator,
      payload: { retention_days: 5 },
    })
    t.equal(patched.statusCode, 200, patched.body)
    // Forty days of partitions ahead, seeded, then purged as if 40 days had passed.
    await pool.query(
      `select hookline_create_partition(t, (now() at time zone 'UTC')::date + d)
       from unnest($1::text[]) t, generate_series(1, 40) d`,
      [TABLES],
    )
    const noon = (offset: number) => new Date(dayOf(offset).getTime() + DAY_MS / 2)
    const seeded = new Map<string, Map<number, Awaited<ReturnType<typeof seedDay>>>>()
    for (const ws of [long, short]) {
      const handler = await createHandler(app, ws.auth, handlerBody)
      const days = new Map<number, Awaited<ReturnType<typeof seedDay>>>()
      for (const offset of [2, 3, 9, 10, 20, 33, 38]) {
        days.set(
          offset,
          await seedDay(pool, ws.id, handler.id, noon(offset), { batchRecord: true }),
        )
      }
      seeded.set(ws.id, days)
    }
    // Still retrying on day 3: that day stays whole for deliveries.
    const handler = await createHandler(app, long.auth, handlerBody)
    const open = await seedDay(pool, long.id, handler.id, noon(3), { open: true })
    // A rule's delivery of one event: no record of its own, it renders from the event (0020).
    await pool.query('update deliveries set record = null where id = $1', [open.deliveryId])

    const now = new Date(dayOf(40).getTime() + DAY_MS / 4) // day 40, 06:00
    // Longest horizon: day 10, 06:00. Days 1..9 go whole; day 10 is spared.
    const { rows, partitions } = await purgeHistory(database.db, { now, batchSize: 2 })
    for (const table of TABLES) {
      for (const offset of [1, 2, 9]) {
        t.notOk(
          await exists(pool, `${table}${daySuffix(dayOf(offset))}`),
          `${table} +${offset} dropped`,
        )
      }
      t.ok(await exists(pool, `${table}${daySuffix(dayOf(10))}`), `${table} +10 stays`)
    }
    t.notOk(await exists(pool, `inbound_calls${daySuffix(dayOf(3))}`), 'inbound_calls +3 dropped')
    for (const table of ['events', 'deliveries', 'delivery_attempts']) {
      t.ok(await exists(pool, `${table}${daySuffix(dayOf(3))}`), `${table} +3 kept: one is open`)
    }
    t.same(
      partitions.keptOpen,
      [`events${daySuffix(dayOf(3))}`, `deliveries${daySuffix(dayOf(3))}`],
      'the open delivery keeps its day, and its event’s',
    )
    t.same(partitions.busy, [])

    const has = async (table: string, id: string) =>
      (await partitionOf(pool, table, id)).length === 1
    // The thirty-day workspace: day 10 (on the horizon's day) and later stay.
    const longDays = seeded.get(long.id)!
    for (const offset of [10, 20, 33, 38]) {
      const day = longDays.get(offset)!
      t.ok(await has('events', day.eventId), `30 days: event of +${offset} kept`)
      t.ok(await has('deliveries', day.deliveryId), `30 days: delivery of +${offset} kept`)
      t.ok(await has('delivery_attempts', day.deliveryId), `30 days: attempt of +${offset} kept`)
      t.ok(await has('inbound_calls', day.callId), `30 days: call of +${offset} kept`)
    }
    // Finished on day 3, in a kept partition: deleted as a row; the open one stays.
    t.notOk(await has('deliveries', longDays.get(3)!.deliveryId))
    t.notOk(await has('delivery_attempts', longDays.get(3)!.deliveryId))
    t.ok(await has('deliveries', open.deliveryId), 'the open delivery stays')
    t.ok(await has('events', open.eventId), 'with the event it renders from')
    t.notOk(await has('events', longDays.get(9)!.eventId), 'day 9 went with its partition')

    // The five-day workspace (horizon day 35): days 20 and 33 deleted as rows,
    // day 10 left for its partition's drop tomorrow, day 38 kept.
    const shortDays = seeded.get(short.id)!
    for (const offset of [20, 33]) {
      const day = shortDays.get(offset)!
      t.notOk(await has('events', day.eventId), `5 days: event of +${offset} deleted`)
      t.notOk(await has('deliveries', day.deliveryId), `5 days: delivery of +${offset} deleted`)
      t.notOk(await has('delivery_attempts', day.deliveryId), `5 days: attempt of +${offset}`)
      t.notOk(await has('inbound_calls', day.callId), `5 days: call of +${offset} deleted`)
    }
    t.ok(await has('events', shortDays.get(10)!.eventId), '5 days: day 10 waits for the drop')
    t.ok(await has('events', shortDays.get(38)!.eventId), '5 days: day 38 kept')
    t.ok(await has('inbound_calls', shortDays.get(38)!.callId), '5 days: call of 38 kept')
    t.match(rows, { events: 4, calls: 2, deliveries: 4 })

    // Batch records went with their deliveries, by drop and by delete.
    const { rows: orphans } = await pool.query(
      `select count(*)::int as n from delivery_batch_records b
       where not exists (select from deliveries d where d.id = b.delivery_id)`,
    )
    t.equal(orphans[0].n, 0, 'no batch record outlives its delivery')

    // A day later the spared day goes whole.
    const next = await purgeHistory(database.db, { now: new Date(now.getTime() + DAY_MS) })
    t.ok(next.partitions.dropped.includes(`events${daySuffix(dayOf(10))}`))
    t.notOk(await has('events', shortDays.get(10)!.eventId))
    t.ok(await has('events', longDays.get(20)!.eventId))
  },
)

t.test(
  'a day made or dropped behind a long query waits a moment, then is left to the next run',
  async (t) => {
    const { database } = await build(t)
    const { pool } = database
    for (const table of TABLES) await pool.query(`drop table ${table}${daySuffix(dayOf(7))}`)
    await pool.query(
      `select hookline_create_partition('events', (now() at time zone 'UTC')::date + 9)`,
    )
    // A long report reading events, in another session.
    const reader = await pool.connect()
    t.teardown(() => reader.release())
    await reader.query('begin')
    await reader.query('select count(*) from events')

    await t.rejects(ensurePartitions(database.db, 7, { lockTimeoutMs: 200 }), { code: '55P03' })
    const horizon = dayOf(11)
    const held = await dropExpiredPartitions(database.db, horizon, { lockTimeoutMs: 200 })
    t.ok(held.busy.includes(`events${daySuffix(dayOf(9))}`), 'the drop gave up')
    t.ok(await exists(pool, `events${daySuffix(dayOf(9))}`))
    t.ok(held.dropped.includes(`deliveries${daySuffix(dayOf(1))}`), 'other tables went on')

    await reader.query('commit')
    t.ok((await ensurePartitions(database.db, 7)) >= 4, 'the next run makes the missing days')
    for (const table of TABLES) t.ok(await exists(pool, `${table}${daySuffix(dayOf(7))}`))
    const later = await dropExpiredPartitions(database.db, horizon)
    t.ok(later.dropped.includes(`events${daySuffix(dayOf(9))}`), 'and drops what waited')
    t.notOk(await exists(pool, `events${daySuffix(dayOf(9))}`))
  },
)
