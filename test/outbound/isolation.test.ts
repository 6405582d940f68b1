import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, lead, pause, postEvent } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

t.test("workspace B's key on workspace A's ids: 404 and no side effect", async (t) => {
  const testApp = await build(t)
  const { app } = testApp
  const receiver = await startReceiver(t)
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')

  await app.inject({
    method: 'PUT',
    url: '/v1/event-types/lead.created',
    headers: a.auth,
    payload: { description: "A's type" },
  })
  const rule = await createRule(app, a, {
    title: "A's rule",
    event_types: ['lead.created'],
    request: { method: 'POST', url: `${receiver.url}/a`, body_format: 'json' },
    auth: { type: 'bearer', token: 'a-token' },
    // Long enough that A's own delivery stays queued for the whole test.
    execution: { delay_seconds: 3600 },
  })
  const event = await postEvent(app, a, 'lead.created', lead({}))
  const deliveryId = event.deliveries[0] as string
  t.ok(deliveryId)
  // No workers run in this test: A's data only changes if B's calls change it.
  const snapshot = async () => ({
    rule: (await app.inject({ url: `/v1/rules/${rule.id}`, headers: a.auth })).json(),
    delivery: (await app.inject({ url: `/v1/deliveries/${deliveryId}`, headers: a.auth })).json(),
    event: (await app.inject({ url: `/v1/events/${event.id}`, headers: a.auth })).json(),
    eventType: (await app.inject({ url: '/v1/event-types/lead.created', headers: a.auth })).json(),
    deliveries: (await app.inject({ url: '/v1/deliveries', headers: a.auth })).json(),
    rules: (await app.inject({ url: '/v1/rules', headers: a.auth })).json(),
  })
  const before = await snapshot()

  const record = lead({})
  const calls: {
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
    url: string
    payload?: object
  }[] = [
    { method: 'GET', url: `/v1/rules/${rule.id}` },
    { method: 'PATCH', url: `/v1/rules/${rule.id}`, payload: { title: 'hijacked' } },
    { method: 'DELETE', url: `/v1/rules/${rule.id}` },
    { method: 'POST', url: `/v1/rules/${rule.id}/clone` },
    { method: 'POST', url: `/v1/rules/${rule.id}/enable` },
    { method: 'POST', url: `/v1/rules/${rule.id}/disable` },
    {
      method: 'PUT',
      url: `/v1/rules/${rule.id}/references`,
      payload: { references: [{ reference: 'x' }] },
    },
    { method: 'POST', url: `/v1/rules/${rule.id}/preview`, payload: { record } },
    { method: 'POST', url: `/v1/rules/${rule.id}/test`, payload: { record } },
    {
      method: 'POST',
      url: `/v1/rules/${rule.id}/execute`,
      payload: { record, mode: 'inline' },
    },
    {
      method: 'POST',
      url: `/v1/rules/${rule.id}/execute`,
      payload: { record, mode: 'background' },
    },
    { method: 'POST', url: `/v1/rules/${rule.id}/mass-posts`, payload: { records: [record] } },
    { method: 'GET', url: `/v1/deliveries/${deliveryId}` },
    { method: 'POST', url: `/v1/deliveries/${deliveryId}/resend` },
    { method: 'POST', url: `/v1/deliveries/${deliveryId}/cancel` },
    {
      method: 'POST',
      url: '/v1/deliveries/retry-failed',
      payload: { rule_id: rule.id, since: '2020-01-01T00:00:00Z' },
    },
    { method: 'GET', url: `/v1/events/${event.id}` },
    { method: 'GET', url: '/v1/event-types/lead.created' },
    { method: 'DELETE', url: '/v1/event-types/lead.created' },
  ]
  for (const call of calls) {
    const res = await app.inject({ ...call, headers: b.auth })
    t.equal(res.statusCode, 404, `${call.method} ${call.url}: ${res.body}`)
    t.equal(res.json().code, 'not_found', `${call.method} ${call.url}`)
    t.notOk(res.body.includes('a-token'), 'no secret in the answer')
  }

  // Lists and searches by A's ids find nothing of A's.
  const empty = async (url: string) => {
    const res = await app.inject({ url, headers: b.auth })
    t.equal(res.statusCode, 200, url)
    t.same(res.json().data, [], url)
  }
  await empty('/v1/rules')
  await empty('/v1/rules?q=A%27s')
  await empty(`/v1/deliveries?rule_id=${rule.id}`)
  await empty(`/v1/deliveries?entity_id=L-1`)
  await empty('/v1/event-types')
  const csv = await app.inject({ url: '/v1/rules/export.csv', headers: b.auth })
  t.notOk(csv.body.includes(rule.id), 'the export holds only B’s rules')

  // B's event of the same type and record triggers nothing of A's.
  const bEvent = await postEvent(app, b, 'lead.created', lead({}))
  t.same(bEvent.matched_rules, [])
  t.same(bEvent.deliveries, [])
  // B's own event type of the same name is B's alone.
  const own = await app.inject({
    method: 'PUT',
    url: '/v1/event-types/lead.created',
    headers: b.auth,
    payload: { description: "B's type" },
  })
  t.equal(own.statusCode, 201, 'B creates its own, it does not replace A’s')

  await pause(200)
  t.same(await snapshot(), before, "A's rule, delivery, event and event type are unchanged")
  t.equal(receiver.received.length, 0, 'nothing was sent')
  t.equal(receiver.connections(), 0)
  const { rows } = await testApp.database.pool.query<{ n: number }>(
    'select count(*)::int as n from deliveries where workspace_id = any($1)',
    [[a.id, b.id]],
  )
  t.equal(rows[0]?.n, 1, 'no delivery was created by B')
})
