import t from 'tap'
import { build, createWorkspace, operator } from '../helpers/app.js'
import { createHandler } from '../helpers/inbound.js'
import { createRule, postEvent, ruleBody } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

/**
 * Calls, events, deliveries and attempts are written without per-row foreign
 * key checks (migrations/0008, 0009); deleting a handler, a rule or a
 * workspace must still do what the constraints did, and leave every other
 * workspace's rows alone.
 */
t.test('deleting a handler, a rule or a workspace does what the foreign keys did', async (t) => {
  const { app, database } = await build(t)
  const receiver = await startReceiver(t)
  const made = []
  for (const name of ['A', 'B']) {
    const ws = await createWorkspace(app, name)
    const rule = await createRule(
      app,
      ws,
      ruleBody(`${receiver.url}/hook`, { title: `${name} leads` }),
    )
    const executed = await app.inject({
      method: 'POST',
      url: `/v1/rules/${rule.id}/execute`,
      headers: ws.auth,
      payload: {
        record: { entity_type: 'lead', entity_id: `${name}-0`, fields: {} },
        mode: 'inline',
      },
    })
    t.equal(executed.statusCode, 200, `${name}: executed inline, with an attempt row`)
    const event = await postEvent(app, ws, 'lead.created', {
      entity_type: 'lead',
      entity_id: `${name}-1`,
      fields: { email: 'a@example.com' },
    })
    t.equal(event.deliveries.length, 1, `${name}: the event queued a delivery`)
    const handler = await createHandler(app, ws.auth, {
      title: `${name} form`,
      mapping: [{ source: 'email', target: 'lead.email' }],
    })
    const call = await app.inject({
      method: 'POST',
      url: handler.path,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'email=a%40example.com',
    })
    t.equal(call.statusCode, 200, `${name}: the call was accepted`)
    made.push({ ws, rule, handler })
  }
  const [a, b] = made as [(typeof made)[0], (typeof made)[0]]
  const count = async (
    table: 'inbound_calls' | 'events' | 'deliveries' | 'delivery_attempts' | 'handlers',
    ws: string,
  ) => {
    // Attempts: their rows, and first attempts kept in their delivery's row.
    if (table === 'delivery_attempts') {
      const { rows } = await database.pool.query(
        `select (select count(*) from delivery_attempts where workspace_id = $1)
           + (select count(*) from deliveries where workspace_id = $1 and sent_at is not null)
           as n`,
        [ws],
      )
      return Number(rows[0].n)
    }
    const { n } = await database.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('workspace_id', '=', ws)
      .executeTakeFirstOrThrow()
    return Number(n)
  }
  t.equal(await count('inbound_calls', a.ws.id), 1)
  // A's deliveries: the executed one, the event's, and the call's inbound.record notice.
  t.equal(await count('deliveries', a.ws.id), 3)
  t.equal(await count('delivery_attempts', a.ws.id), 1)

  // B's rule goes; its deliveries stay in the history, without their rule.
  const ruleUrl = `/v1/rules/${b.rule.id}`
  await app.inject({ method: 'POST', url: `${ruleUrl}/disable`, headers: b.ws.auth })
  const ruleGone = await app.inject({ method: 'DELETE', url: ruleUrl, headers: b.ws.auth })
  t.equal(ruleGone.statusCode, 204)
  const orphans = await database.db
    .selectFrom('deliveries')
    .select(['rule_id', 'kind'])
    .where('workspace_id', '=', b.ws.id)
    .where('kind', '=', 'rule')
    .execute()
  t.same(orphans, [
    { rule_id: null, kind: 'rule' },
    { rule_id: null, kind: 'rule' },
  ])
  t.equal(await count('delivery_attempts', b.ws.id), 1, "the deleted rule's attempts stay")
  const sent = await database.db
    .selectFrom('deliveries')
    .select('id')
    .where('workspace_id', '=', b.ws.id)
    .where('attempts', '>', 0)
    .executeTakeFirstOrThrow()
  const history = await app.inject({ url: `/v1/deliveries/${sent.id}`, headers: b.ws.auth })
  t.match(
    history.json().attempt_history,
    [{ attempt: 1, request: { method: 'POST', url: /^http/ } }],
    "the deleted rule's request is still shown",
  )
  const aRule = await database.db
    .selectFrom('deliveries')
    .select('rule_id')
    .where('workspace_id', '=', a.ws.id)
    .where('kind', '=', 'rule')
    .execute()
  t.same(aRule, [{ rule_id: a.rule.id }, { rule_id: a.rule.id }], "another workspace's keep theirs")

  const gone = await app.inject({
    method: 'DELETE',
    url: `/v1/handlers/${a.handler.id}`,
    headers: a.ws.auth,
  })
  t.equal(gone.statusCode, 204)
  t.equal(await count('inbound_calls', a.ws.id), 0, "the handler's calls went with it")
  t.equal(await count('inbound_calls', b.ws.id), 1, "another workspace's calls stay")

  const deleted = await app.inject({
    method: 'DELETE',
    url: `/operator/workspaces/${a.ws.id}`,
    headers: operator,
  })
  t.equal(deleted.statusCode, 204)
  for (const table of ['events', 'deliveries', 'delivery_attempts', 'handlers'] as const) {
    t.equal(await count(table, a.ws.id), 0, `the workspace's ${table} went with it`)
    t.ok((await count(table, b.ws.id)) > 0, `the other workspace's ${table} stay`)
  }
  t.equal(await count('inbound_calls', b.ws.id), 1)
})
