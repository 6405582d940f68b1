import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, lead, ruleBody, type Workspace } from '../helpers/outbound.js'

// No workers run: what a call queued stays in the deliveries table to be counted.
const RECEIVER = 'http://127.0.0.1:9/hook'

const post = (app: FastifyInstance, ws: Workspace, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/v1/events', headers: ws.auth, payload })

const postBatch = (app: FastifyInstance, ws: Workspace, events: Record<string, unknown>[]) =>
  app.inject({ method: 'POST', url: '/v1/events/batch', headers: ws.auth, payload: { events } })

async function count(pool: pg.Pool, table: 'events' | 'deliveries', workspaceId: string) {
  const { rows } = await pool.query(
    `select count(*)::int as n from ${table} where workspace_id = $1`,
    [workspaceId],
  )
  return rows[0].n as number
}

/** Makes the events holding `key` look `hours` old, as if sent back then. */
/** Makes the key's holder (the event, and its claim on the key) `hours` old. */
async function age(pool: pg.Pool, workspaceId: string, key: string, hours: number) {
  await pool.query(
    `update events set created_at = now() - make_interval(hours => $3)
     where workspace_id = $1 and idempotency_key = $2`,
    [workspaceId, key, hours],
  )
  await pool.query(
    `update event_idempotency_keys set created_at = now() - make_interval(hours => $3)
     where workspace_id = $1 and key = $2`,
    [workspaceId, key, hours],
  )
}

const created = (fields: Record<string, unknown>, key: string, id = 'L-1') => ({
  type: 'lead.created',
  record: lead(fields, id),
  idempotency_key: key,
})

t.test(
  'the same key with the same event answers the first answer and queues nothing',
  async (t) => {
    const { app, database } = await build(t)
    const ws = await createWorkspace(app)
    await createRule(app, ws, ruleBody(RECEIVER))

    const first = await post(app, ws, {
      type: 'lead.created',
      record: {
        entity_type: 'lead',
        entity_id: 'L-1',
        fields: { lead: { id: 'L-1', name: 'Ada' } },
      },
      previous_fields: { lead: { name: 'A', id: 'L-1' } },
      idempotency_key: 'k-same',
    })
    t.equal(first.statusCode, 202, first.body)
    t.equal(first.json().duplicate, false)
    t.equal(first.json().deliveries.length, 1)

    // The same event, its objects' keys in another order.
    const again = await post(app, ws, {
      idempotency_key: 'k-same',
      previous_fields: { lead: { id: 'L-1', name: 'A' } },
      record: {
        fields: { lead: { name: 'Ada', id: 'L-1' } },
        entity_id: 'L-1',
        entity_type: 'lead',
      },
      type: 'lead.created',
    })
    t.equal(again.statusCode, 202, again.body)
    t.equal(again.json().duplicate, true)
    t.equal(again.json().id, first.json().id)
    t.same(again.json().deliveries, first.json().deliveries)
    t.same(again.json().matched_rules, first.json().matched_rules)
    t.equal(await count(database.pool, 'events', ws.id), 1)
    t.equal(await count(database.pool, 'deliveries', ws.id), 1, 'queued once')
  },
)

t.test('the same key with a different event is refused, naming the key', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(RECEIVER))
  const first = await post(app, ws, created({ status: 'New' }, 'k-diff'))
  t.equal(first.statusCode, 202, first.body)

  const differs = [
    created({ status: 'Qualified' }, 'k-diff'),
    created({ status: 'New' }, 'k-diff', 'L-2'),
    { ...created({ status: 'New' }, 'k-diff'), type: 'lead.updated' },
    { ...created({ status: 'New' }, 'k-diff'), previous_fields: { lead: { status: 'Old' } } },
  ]
  for (const payload of differs) {
    const res = await post(app, ws, payload)
    t.equal(res.statusCode, 409, res.body)
    t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'])
    t.match(res.json(), {
      statusCode: 409,
      code: 'conflict',
      error: 'Conflict',
      message: /^idempotency_key: "k-diff" was used for a different event/,
    })
    t.match(res.json().message, first.json().id, 'names the event that holds the key')
  }
  t.equal(await count(database.pool, 'events', ws.id), 1, 'nothing recorded')
  t.equal(await count(database.pool, 'deliveries', ws.id), 1, 'nothing queued')

  // Another workspace's keys are its own.
  const other = await createWorkspace(app, 'Other')
  const theirs = await post(app, other, created({ status: 'Qualified' }, 'k-diff'))
  t.equal(theirs.statusCode, 202, theirs.body)
  t.equal(theirs.json().duplicate, false)
})

t.test('after 24 hours the key names a new event; the old one stays', async (t) => {
  const { app, database } = await build(t)
  const { pool } = database
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(RECEIVER))
  const old = (await post(app, ws, created({ status: 'New' }, 'k-day'))).json()

  await age(pool, ws.id, 'k-day', 23)
  const within = await post(app, ws, created({ status: 'Qualified' }, 'k-day'))
  t.equal(within.statusCode, 409, 'still held at 23 hours')

  await age(pool, ws.id, 'k-day', 25)
  const reused = await post(app, ws, created({ status: 'Qualified' }, 'k-day'))
  t.equal(reused.statusCode, 202, reused.body)
  t.equal(reused.json().duplicate, false)
  t.not(reused.json().id, old.id)
  t.equal(reused.json().deliveries.length, 1)
  t.not(reused.json().deliveries[0], old.deliveries[0], 'a new delivery')

  // From now on the key is the new event's.
  const repeat = await post(app, ws, created({ status: 'Qualified' }, 'k-day'))
  t.match(repeat.json(), { duplicate: true, id: reused.json().id })
  t.equal((await post(app, ws, created({ status: 'New' }, 'k-day'))).statusCode, 409)

  const history = await app.inject({ url: `/v1/events/${old.id}`, headers: ws.auth })
  t.equal(history.statusCode, 200, 'the old event stays')
  t.equal(history.json().idempotency_key, 'k-day', 'with the key it was sent with')
  t.equal(history.json().deliveries[0].id, old.deliveries[0])
  t.equal(await count(pool, 'events', ws.id), 2)
  t.equal(await count(pool, 'deliveries', ws.id), 2)
})

t.test('an event recorded before request hashes were kept answers any repeat', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  const first = (await post(app, ws, created({ status: 'New' }, 'k-legacy'))).json()
  await database.pool.query(`update events set request_hash = null where id = $1`, [first.id])
  const res = await post(app, ws, created({ status: 'Qualified' }, 'k-legacy'))
  t.equal(res.statusCode, 202, res.body)
  t.match(res.json(), { duplicate: true, id: first.id })
})

t.test('a batch answers repeats per event and is refused whole for a reused key', async (t) => {
  const { app, database } = await build(t)
  const { pool } = database
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(RECEIVER))
  const earlier = (await post(app, ws, created({ n: 0 }, 'k-0'))).json()

  const batch = await postBatch(app, ws, [
    created({ n: 1 }, 'k-1'),
    created({ n: 0 }, 'k-0'), // sent before
    created({ n: 1 }, 'k-1'), // earlier in this batch
    created({ n: 2 }, 'k-2'),
  ])
  t.equal(batch.statusCode, 202, batch.body)
  const [one, zero, oneAgain, two] = batch.json().data
  t.match(one, { duplicate: false })
  t.match(zero, { duplicate: true, id: earlier.id, deliveries: earlier.deliveries })
  t.match(oneAgain, { duplicate: true, id: one.id, deliveries: one.deliveries })
  t.match(two, { duplicate: false })
  t.equal(await count(pool, 'events', ws.id), 3)
  t.equal(await count(pool, 'deliveries', ws.id), 3)

  const reused = await postBatch(app, ws, [created({ n: 3 }, 'k-3'), created({ n: 99 }, 'k-2')])
  t.equal(reused.statusCode, 409, reused.body)
  t.match(reused.json(), {
    code: 'conflict',
    message: /^events\/1\/idempotency_key: "k-2" was used for a different event/,
  })
  const within = await postBatch(app, ws, [created({ n: 4 }, 'k-4'), created({ n: 5 }, 'k-4')])
  t.equal(within.statusCode, 409, 'also against an earlier event of the same batch')
  t.match(within.json().message, /^events\/1\/idempotency_key: "k-4"/)
  t.equal(await count(pool, 'events', ws.id), 3, 'a refused batch records none of its events')
  t.equal(await count(pool, 'deliveries', ws.id), 3)

  await age(pool, ws.id, 'k-2', 25)
  const later = await postBatch(app, ws, [created({ n: 3 }, 'k-3'), created({ n: 99 }, 'k-2')])
  t.equal(later.statusCode, 202, later.body)
  t.match(later.json().data, [{ duplicate: false }, { duplicate: false }])
  t.equal(await count(pool, 'events', ws.id), 5)
})

t.test('rules with a batching window (one insert per event) keep the same rules', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(RECEIVER, { execution: { batch_window_seconds: 60 } }))
  const first = (await post(app, ws, created({ n: 1 }, 'k-w'))).json()
  t.equal(first.deliveries.length, 1)

  const batch = await postBatch(app, ws, [created({ n: 2 }, 'k-w2'), created({ n: 1 }, 'k-w')])
  t.equal(batch.statusCode, 202, batch.body)
  t.match(batch.json().data[1], { duplicate: true, id: first.id, deliveries: first.deliveries })
  t.same(batch.json().data[0].deliveries, first.deliveries, 'joined the open batch')

  const differs = await post(app, ws, created({ n: 9 }, 'k-w'))
  t.equal(differs.statusCode, 409, differs.body)
  await age(database.pool, ws.id, 'k-w', 25)
  const reused = await post(app, ws, created({ n: 9 }, 'k-w'))
  t.equal(reused.statusCode, 202, reused.body)
  t.equal(reused.json().duplicate, false)
  t.equal(await count(database.pool, 'events', ws.id), 3)
})

t.test('concurrent calls taking over an expired key record one event', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(RECEIVER))
  await post(app, ws, created({ n: 0 }, 'k-race'))
  await age(database.pool, ws.id, 'k-race', 25)

  const same = await Promise.all([1, 2, 3, 4].map(() => post(app, ws, created({ n: 1 }, 'k-race'))))
  t.same(
    same.map((res) => res.statusCode),
    [202, 202, 202, 202],
  )
  const answers = same.map((res) => res.json())
  t.equal(answers.filter((a) => !a.duplicate).length, 1, 'one recorded, the rest repeat it')
  t.equal(new Set(answers.map((a) => a.id)).size, 1)
  t.equal(await count(database.pool, 'events', ws.id), 2)
  t.equal(await count(database.pool, 'deliveries', ws.id), 2)

  await age(database.pool, ws.id, 'k-race', 25)
  const different = await Promise.all([2, 3, 4].map((n) => post(app, ws, created({ n }, 'k-race'))))
  t.same(
    different.map((res) => res.statusCode).sort(),
    [202, 409, 409],
    'one different event takes the key, the others are refused',
  )
  t.equal(await count(database.pool, 'events', ws.id), 3)
})
