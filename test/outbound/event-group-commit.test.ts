/**
 * POST /v1/events under concurrency: calls that arrive together are written
 * together (group commit), yet each caller gets its own answer or error.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { ingestTogether } from '../../src/outbound/events/ingest-together.js'
import { IngestViewCache } from '../../src/outbound/events/ingest-view.js'
import type { EventInput } from '../../src/schemas/events.js'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, lead, ruleBody, type Workspace } from '../helpers/outbound.js'

// No workers run: what a call queued stays in the tables to be looked at.
const RECEIVER = 'http://127.0.0.1:9/hook'

const post = (app: FastifyInstance, ws: Workspace, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/v1/events', headers: ws.auth, payload })

const event = (i: number, extra: Record<string, unknown> = {}) => ({
  type: 'lead.created',
  record: lead({ n: i }, `L-${i}`),
  ...extra,
})

t.test(
  'fifty concurrent single events share transactions, jobs and answers stay their own',
  async (t) => {
    const { app, database } = await build(t)
    const a = await createWorkspace(app, 'A')
    const b = await createWorkspace(app, 'B')
    await createRule(app, a, ruleBody(RECEIVER))
    await createRule(app, b, ruleBody(RECEIVER))

    const calls = Array.from({ length: 50 }, (_, i) => ({ ws: i % 2 ? b : a, i }))
    const answers = await Promise.all(calls.map(({ ws, i }) => post(app, ws, event(i))))

    for (const [k, answer] of answers.entries()) {
      t.equal(answer.statusCode, 202, answer.body)
      const { id, deliveries } = answer.json()
      const { rows } = await database.pool.query(
        'select e.workspace_id, e.entity_id, d.event_id from events e join deliveries d on d.event_id = e.id where e.id = $1',
        [id],
      )
      t.equal(rows.length, 1, `call ${k}: its event has its one delivery`)
      t.equal(rows[0]?.entity_id, `L-${k}`, `call ${k} is answered with its own event`)
      t.equal(rows[0]?.workspace_id, calls[k]?.ws.id, `call ${k}'s event is in its own workspace`)
      t.equal(deliveries.length, 1)
    }
    const { rows } = await database.pool.query<{ transactions: number; jobs: number }>(
      `select (select count(distinct xmin::text)::int from events) as transactions,
            (select count(*)::int from jobs where kind = 'delivery.send') as jobs`,
    )
    t.ok(rows[0]!.transactions < 50, `50 events written in ${rows[0]!.transactions} transactions`)
    t.ok(rows[0]!.jobs < 50, `50 deliveries queued in ${rows[0]!.jobs} jobs`)
  },
)

t.test('one bad call among concurrent ones fails alone', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(RECEIVER))
  const first = await post(app, ws, event(0, { idempotency_key: 'k-1' }))
  t.equal(first.statusCode, 202, first.body)

  const answers = await Promise.all([
    ...Array.from({ length: 10 }, (_, i) => post(app, ws, event(100 + i))),
    // The same key for a different event: a conflict, for this caller only.
    post(app, ws, event(1, { idempotency_key: 'k-1' })),
    // The same key for the same event: the first answer.
    post(app, ws, event(0, { idempotency_key: 'k-1' })),
  ])
  for (const answer of answers.slice(0, 10)) t.equal(answer.statusCode, 202, answer.body)
  t.equal(answers[10]?.statusCode, 409, answers[10]?.body ?? '')
  t.match(answers[10]?.json(), { code: 'conflict', message: /idempotency_key/ })
  t.equal(answers[11]?.statusCode, 202)
  t.equal(answers[11]?.json().duplicate, true)
  t.equal(answers[11]?.json().id, first.json().id)
  const { rows } = await database.pool.query('select count(*)::int as n from events')
  t.equal(rows[0].n, 11, 'the first event and the ten good ones are recorded, the conflict not')
})

// Single events remember the workspace's rules and catalog between calls
// (IngestViewCache); a change made anywhere (another API process, or SQL) is
// seen by the very next call.
t.test('the next single event sees every change to rules, catalog and switch', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  const first = await createRule(app, ws, ruleBody(RECEIVER, { title: 'First' }))
  const matched = async (i: number) => {
    const answer = await post(app, ws, event(i))
    t.equal(answer.statusCode, 202, answer.body)
    return answer.json().matched_rules
  }
  t.same(await matched(1), [first.id])

  const second = await createRule(app, ws, ruleBody(RECEIVER, { title: 'Second' }))
  t.same(await matched(2), [first.id, second.id], 'a new rule matches at once')

  const off = await app.inject({
    method: 'POST',
    url: `/v1/rules/${first.id}/disable`,
    headers: ws.auth,
  })
  t.equal(off.statusCode, 200, off.body)
  t.same(await matched(3), [second.id], 'a disabled rule no longer does')
  // Enabling clears failing_since in the same write: still a change to the view.
  await database.pool.query('update rules set failing_since = now() where id = $1', [first.id])
  const on = await app.inject({
    method: 'POST',
    url: `/v1/rules/${first.id}/enable`,
    headers: ws.auth,
  })
  t.equal(on.statusCode, 200, on.body)
  t.same(await matched(3), [first.id, second.id], 'an enabled rule matches at once')
  await app.inject({ method: 'POST', url: `/v1/rules/${first.id}/disable`, headers: ws.auth })

  // Behind the API's back, as another process's write would be.
  await database.pool.query(`update rules set event_types = '{lead.deleted}' where id = $1`, [
    second.id,
  ])
  t.same(await matched(4), [], 'a rule moved to another type no longer does')
  await database.pool.query(`update rules set event_types = '{lead.created}' where id = $1`, [
    second.id,
  ])
  t.same(await matched(5), [second.id])

  await database.pool.query('update workspaces set webhooks_enabled = false where id = $1', [ws.id])
  const paused = await post(app, ws, event(6))
  t.equal(paused.json().webhooks_enabled, false, 'webhooks switched off')
  t.same(paused.json().deliveries, [])
  await database.pool.query('update workspaces set webhooks_enabled = true where id = $1', [ws.id])

  const archived = await app.inject({
    method: 'PUT',
    url: '/v1/event-types/lead.created',
    headers: ws.auth,
    payload: { archived: true },
  })
  t.ok(archived.statusCode < 300, archived.body)
  const refused = await post(app, ws, event(7))
  t.equal(refused.statusCode, 400, 'an archived type is refused at once')
  t.match(refused.json().message, /archived/)
  const restored = await app.inject({
    method: 'PUT',
    url: '/v1/event-types/lead.created',
    headers: ws.auth,
    payload: { archived: false },
  })
  t.ok(restored.statusCode < 300, restored.body)
  t.same(await matched(8), [second.id], 'and taken again once restored')

  const { rows } = await database.pool.query<{ n: number }>(
    `select count(*)::int as n from events where workspace_id = $1`,
    [ws.id],
  )
  t.equal(rows[0]?.n, 8, 'every event taken recorded once, the refused one not at all')
})

t.test("a job holds as many of a rule's deliveries as the rule may send at once", async (t) => {
  const weights = async (workerConcurrency: number, path: string, count: number) => {
    const { app, database } = await build(t, { workerConcurrency })
    const ws = await createWorkspace(app, 'A')
    await createRule(app, ws, ruleBody(RECEIVER))
    if (path === '/v1/events/batch') {
      const events = Array.from({ length: count }, (_, i) => event(i))
      const answer = await app.inject({
        method: 'POST',
        url: path,
        headers: ws.auth,
        payload: { events },
      })
      t.equal(answer.statusCode, 202, answer.body)
    } else {
      const answers = await Promise.all(
        Array.from({ length: count }, (_, i) => post(app, ws, event(i))),
      )
      for (const answer of answers) t.equal(answer.statusCode, 202, answer.body)
    }
    const { rows } = await database.pool.query<{ weight: number; ids: number }>(
      `select weight, jsonb_array_length(payload -> 'deliveryIds') as ids from jobs
       where kind = 'delivery.send' order by weight desc, id`,
    )
    t.ok(
      rows.every((row) => row.weight === row.ids),
      'each job weighs as many deliveries as it names',
    )
    return rows.map((row) => row.weight)
  }
  // A fifth of 250 worker slots: 50 to a job; of the default-sized 50: ten, as ever.
  t.same(await weights(250, '/v1/events/batch', 120), [50, 50, 20])
  t.same(await weights(50, '/v1/events/batch', 25), [10, 10, 5])
  const single = await weights(250, '/v1/events', 60)
  t.ok(Math.max(...single) <= 50, `single events' jobs hold at most 50 (${single.join(', ')})`)
  t.equal(
    single.reduce((sum, w) => sum + w, 0),
    60,
    'every delivery is in a job',
  )
})

t.test('a group taken again after its remembered view went stale keeps its job size', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app, 'A')
  const rule = await createRule(app, ws, ruleBody(RECEIVER))
  const views = new IngestViewCache()
  const take = (from: number, count: number) =>
    ingestTogether(
      database.db,
      ws.id,
      Array.from({ length: count }, (_, i) => event(from + i)) as EventInput[],
      views,
      50,
    )
  await take(0, 1)
  // Another process changes the rule: the remembered view no longer holds.
  await database.pool.query('update rules set updated_at = now() where id = $1', [rule.id])
  await database.pool.query('delete from jobs')
  const outcomes = await take(1, 30)
  t.equal(outcomes?.length, 30)
  const { rows } = await database.pool.query<{ weight: number }>(
    `select weight from jobs where kind = 'delivery.send'`,
  )
  t.same(
    rows.map((row) => row.weight),
    [30],
    'the retaken group is one job of 30, as 50 to a job allows',
  )
})

t.test("a failing delivery's mark on its rule leaves the remembered view alone", async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app, 'A')
  const a = await createRule(app, ws, ruleBody(RECEIVER, { title: 'A' }))
  const b = await createRule(app, ws, ruleBody(RECEIVER, { title: 'B' }))
  const views = new IngestViewCache()
  const take = (i: number) => ingestTogether(database.db, ws.id, [event(i)] as EventInput[], views)
  await take(0)
  const key = IngestViewCache.key(ws.id, ['lead.created'])
  const remembered = views.get(key)
  t.ok(remembered, 'the view is remembered')

  // What record-outcome writes when a delivery fails: taking events never
  // reads it, so the next event needs no fresh read of the view.
  await database.pool.query('update rules set failing_since = now() where id = $1', [a.id])
  const outcomes = await take(1)
  t.equal(outcomes?.length, 1)
  t.equal(views.get(key), remembered, 'the view still holds after failing_since was set')

  // Nor do two failures in one workspace wait on each other.
  const one = await database.pool.connect()
  const two = await database.pool.connect()
  try {
    await one.query('begin')
    await one.query('update rules set failing_since = now() where id = $1', [a.id])
    await two.query('begin')
    await two.query(`set local lock_timeout = '5s'`)
    await two.query('update rules set failing_since = now() where id = $1', [b.id])
    t.pass('the second failure was recorded while the first was open')
  } finally {
    await two.query('rollback').catch(() => {})
    await one.query('rollback').catch(() => {})
    one.release()
    two.release()
  }
})
