import { copyFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import type pg from 'pg'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { connectDatabase } from '../../src/db/database.js'
import { migrate, migrationsDir } from '../../src/db/migrate.js'
import { newId } from '../../src/ids.js'
import { newCallId } from '../../src/inbound/call-ids.js'
import { createMetrics } from '../../src/metrics.js'
import { findKeyHolders, insertEvents } from '../../src/outbound/events/insert-events.js'
import { SecretBox } from '../../src/security/secret-box.js'
import { JOB_KINDS } from '../../src/workers.js'
import { createWorkspace, OPERATOR_TOKEN, TEST_ENCRYPTION_KEY } from '../helpers/app.js'
import { emptyDatabase } from '../helpers/database.js'
import { createHandler } from '../helpers/inbound.js'

const FIRST_PARTITIONED = '0030_partitioned_history.sql'
const TABLES = [
  'events',
  'deliveries',
  'delivery_attempts',
  'delivery_batch_records',
  'inbound_calls',
]
const DAY = 86_400_000
const REQUEST = {
  method: 'POST',
  url: 'https://example.com/hook',
  headers: {},
  body: '{}',
  body_truncated: false,
}

/** Every row of the history tables, as JSON, in a fixed order. */
async function snapshot(pool: pg.Pool) {
  const out: Record<string, unknown[]> = {}
  for (const table of TABLES) {
    const order = table === 'delivery_batch_records' ? 'delivery_id, entity_id' : 'id'
    const { rows } = await pool.query(`select to_jsonb(x) as row from ${table} x order by ${order}`)
    out[table] = rows.map((r) => r.row)
  }
  return out
}

t.test(
  'a database filled before partitioning migrates with all its history readable',
  async (t) => {
    const { url, pool } = await emptyDatabase(t)
    const before = t.testdir({})
    for (const file of (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort()) {
      if (file < FIRST_PARTITIONED)
        await copyFile(path.join(migrationsDir, file), path.join(before, file))
    }
    await migrate(pool, before)

    const handle = connectDatabase(url, { max: 3 })
    t.teardown(() => handle.close())
    const config = loadConfig({}, { operatorToken: OPERATOR_TOKEN, databaseUrl: url })
    const app = await buildApp({
      config,
      db: handle.db,
      pool: handle.pool,
      box: new SecretBox(TEST_ENCRYPTION_KEY),
      metrics: createMetrics({ pool: handle.pool, queueKinds: JOB_KINDS }),
    })
    t.teardown(() => app.close())
    const ws = await createWorkspace(app)
    const handler = await createHandler(app, ws.auth, {
      title: 'Form',
      parameters: [{ name: 'email', type: 'email', required: true }],
      mapping: [{ source: 'email', target: 'lead.email' }],
    })

    // History from 500 days ago (older than the partitioned days), 40 days, and today.
    const ids: { event: string; delivery: string; call: string; at: Date }[] = []
    for (const age of [500 * DAY, 40 * DAY, 3 * DAY, 3_600_000]) {
      const at = new Date(Date.now() - age)
      const event = newId('evt', at.getTime())
      const delivery = newId('dlv', at.getTime())
      const call = newCallId(at)
      const recent = age < DAY
      await pool.query(
        `insert into events (id, workspace_id, type, entity_type, entity_id, fields, idempotency_key,
         request_hash, answer, created_at)
       values ($1, $2, 'lead.created', 'lead', 'L-1', '{"name":"Ada"}', $3, $4, $5, $6)`,
        [
          event,
          ws.id,
          recent ? 'key-1' : null,
          recent ? 'hash-1' : null,
          recent ? { matched_rules: [], deliveries: [] } : null,
          at,
        ],
      )
      await pool.query(
        `insert into deliveries (id, workspace_id, kind, event_id, entity_id, status, record, attempts,
         max_attempts, created_at, updated_at, finished_at, response_status)
       values ($1, $2, 'notice', $3, 'L-1', 'succeeded', '[{"entity_id":"L-1"},{"entity_id":"L-2"}]',
         2, 3, $4, $4, $4, 200)`,
        [delivery, ws.id, event, at],
      )
      for (const attempt of [1, 2]) {
        await pool.query(
          `insert into delivery_attempts (delivery_id, workspace_id, attempt, request, response_status,
           duration_ms, created_at)
         values ($1, $2, $3, $4, $5, 12, $6)`,
          [delivery, ws.id, attempt, REQUEST, attempt === 1 ? 503 : 200, at],
        )
      }
      await pool.query(
        `insert into delivery_batch_records (delivery_id, workspace_id, entity_id) values ($1, $2, 'L-2')`,
        [delivery, ws.id],
      )
      await pool.query(
        `insert into inbound_calls (id, workspace_id, handler_id, method, headers, query, body_size,
         source_address, received_at, outcome, finished_at, response_status)
       values ($1, $2, $3, 'POST', '{}', '{}', 0, '127.0.0.1', $4, 'accepted', $4, 200)`,
        [call, ws.id, handler.id, at],
      )
      ids.push({ event, delivery, call, at })
    }
    const rowsBefore = await snapshot(pool)

    const { applied } = await migrate(pool)
    t.ok(applied.includes(FIRST_PARTITIONED), 'the partitioning migrations ran')
    t.same(await snapshot(pool), rowsBefore, 'every row, every column, as it was')

    const { rows: kinds } = await pool.query(
      `select relname, relkind from pg_class where relname = any($1::text[]) order by relname`,
      [TABLES],
    )
    t.same(
      kinds.map((k) => `${k.relname}:${k.relkind}`),
      [
        'deliveries:p',
        'delivery_attempts:p',
        'delivery_batch_records:r',
        'events:p',
        'inbound_calls:p',
      ],
      'history tables are partitioned',
    )
    const partOf = async (table: string, key: string, id: string) =>
      (
        await pool.query(`select tableoid::regclass::text as p from ${table} where ${key} = $1`, [
          id,
        ])
      ).rows[0].p as string
    const dayName = (at: Date) => `_p${at.toISOString().slice(0, 10).replaceAll('-', '')}`
    t.equal(
      await partOf('events', 'id', ids[0]!.event),
      'events_before',
      '500 days: before the days',
    )
    for (const { event, delivery, call, at } of ids.slice(1)) {
      t.equal(await partOf('events', 'id', event), `events${dayName(at)}`)
      t.equal(await partOf('deliveries', 'id', delivery), `deliveries${dayName(at)}`)
      t.equal(
        await partOf('delivery_attempts', 'delivery_id', delivery),
        `delivery_attempts${dayName(at)}`,
      )
      t.equal(await partOf('inbound_calls', 'id', call), `inbound_calls${dayName(at)}`)
    }

    // Read through the API, as a user would.
    const since = new Date(Date.now() - 600 * DAY).toISOString()
    for (const { event, delivery, call } of ids) {
      const e = await app.inject({ url: `/v1/events/${event}`, headers: ws.auth })
      t.equal(e.statusCode, 200, e.body)
      const d = await app.inject({ url: `/v1/deliveries/${delivery}`, headers: ws.auth })
      t.equal(d.statusCode, 200, d.body)
      t.match(d.json(), {
        id: delivery,
        status: 'succeeded',
        attempt_history: [{ attempt: 1 }, { attempt: 2 }],
      })
      const c = await app.inject({ url: `/v1/calls/${call}`, headers: ws.auth })
      t.equal(c.statusCode, 200, c.body)
    }
    const listed = await app.inject({
      url: `/v1/deliveries?entity_id=L-2&since=${since}`,
      headers: ws.auth,
    })
    t.equal(listed.json().data.length, 4, 'batches found by a record they carried')
    const calls = await app.inject({
      url: `/v1/handlers/${handler.id}/calls?since=${since}`,
      headers: ws.auth,
    })
    t.equal(calls.json().data.length, 4)

    // An attempt id carries on from the old sequence.
    const { rows: next } = await pool.query(
      `insert into delivery_attempts (delivery_id, workspace_id, attempt, request, duration_ms)
     values ($1, $2, 3, '{}', 1) returning id`,
      [ids[3]!.delivery, ws.id],
    )
    const maxBefore = Math.max(
      ...rowsBefore.delivery_attempts!.map((a) => Number((a as { id: number }).id)),
    )
    t.ok(Number(next[0].id) > maxBefore, 'new attempt ids follow the old ones')

    // The recent event still holds its idempotency key.
    await handle.db.transaction().execute(async (trx) => {
      const recorded = await insertEvents(trx, [
        {
          id: newId('evt'),
          workspace_id: ws.id,
          type: 'lead.created',
          entity_type: 'lead',
          entity_id: 'L-1',
          fields: {},
          previous: null,
          idempotency_key: 'key-1',
          request_hash: 'hash-1',
          answer: null,
        },
      ])
      t.equal(recorded.size, 0, 'a repeat of a held key is not recorded')
      const holders = await findKeyHolders(trx, ws.id, ['key-1'])
      t.equal(holders.get('key-1')?.id, ids[3]!.event, 'the first event answers it')
    })

    // Deleting the workspace still takes its history with it.
    const gone = await app.inject({
      method: 'DELETE',
      url: `/operator/workspaces/${ws.id}`,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    })
    t.equal(gone.statusCode, 204, gone.body)
    const { rows: left } = await pool.query(
      `select (select count(*) from events)::int + (select count(*) from deliveries)::int
       + (select count(*) from delivery_attempts)::int as n`,
    )
    t.equal(left[0].n, 0)
  },
)
