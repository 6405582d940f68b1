import t from 'tap'
import { build, createWorkspace, operator } from '../helpers/app.js'
import { createHandler } from '../helpers/inbound.js'
import { createRule, postEvent, ruleBody } from '../helpers/outbound.js'

/**
 * Calls, events and deliveries are written without per-row foreign key
 * checks (migrations/0008); deleting a handler or a workspace must still
 * take its rows with it, and leave every other workspace's alone.
 */
t.test('deleting a handler or a workspace removes its rows, and only its own', async (t) => {
  const { app, database } = await build(t)
  const made = []
  for (const name of ['A', 'B']) {
    const ws = await createWorkspace(app, name)
    const rule = await createRule(
      app,
      ws,
      ruleBody('https://crm.example/hook', { title: `${name} leads` }),
    )
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
    table: 'inbound_calls' | 'events' | 'deliveries' | 'handlers',
    ws: string,
  ) => {
    const { n } = await database.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('workspace_id', '=', ws)
      .executeTakeFirstOrThrow()
    return Number(n)
  }
  t.equal(await count('inbound_calls', a.ws.id), 1)
  // A's deliveries: the rule's, and the call's inbound.record notice.
  t.equal(await count('deliveries', a.ws.id), 2)

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
  for (const table of ['events', 'deliveries', 'handlers'] as const) {
    t.equal(await count(table, a.ws.id), 0, `the workspace's ${table} went with it`)
    t.ok((await count(table, b.ws.id)) > 0, `the other workspace's ${table} stay`)
  }
  t.equal(await count('inbound_calls', b.ws.id), 1)
})
