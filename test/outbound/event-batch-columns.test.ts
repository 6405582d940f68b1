import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, lead } from '../helpers/outbound.js'

// A batch's events travel to PostgreSQL one column at a time (insert-events.ts
// `eventColumns`): what is stored must be what was posted, whatever the text.
const testApp = await build(t)

t.test(
  'a batch stores each event as posted: odd text, previous fields or none, keys',
  async (t) => {
    const { app } = testApp
    const ws = await createWorkspace(app)
    await createRule(app, ws, {
      title: 'all leads',
      event_types: ['lead.created'],
      request: { method: 'POST', url: 'http://127.0.0.1:9/in', body_format: 'json' },
    })
    const odd = ['quote " and \\ backslash', 'NULL', '{a,b}', ' spaced ', 'é ünïcödé ✓', '']
    const events = odd.map((text, n) => ({
      type: 'lead.created',
      record: { ...lead({ note: text, n, nested: { list: [text, null, n] } }, text || 'empty') },
      ...(n % 2 ? { previous_fields: { lead: { note: `was ${text}` } } } : {}),
      ...(n === 2 ? { idempotency_key: `key "${text}"` } : {}),
    }))
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events/batch',
      headers: ws.auth,
      payload: { events },
    })
    t.equal(res.statusCode, 202, res.body)
    const ids: string[] = res.json().data.map((r: { id: string }) => r.id)
    t.equal(ids.length, events.length)
    for (const [n, id] of ids.entries()) {
      const got = await app.inject({ method: 'GET', url: `/v1/events/${id}`, headers: ws.auth })
      t.equal(got.statusCode, 200, got.body)
      const event = got.json()
      const sent = events[n]!
      t.same(event.record, sent.record, `event ${n}: its record`)
      t.same(event.previous_fields, sent.previous_fields ?? null, `event ${n}: its previous fields`)
      t.equal(event.idempotency_key, sent.idempotency_key ?? null, `event ${n}: its key`)
      t.equal(event.deliveries.length, 1, `event ${n}: its delivery`)
    }
  },
)

t.test("a batch's deliveries are numbered in the batch's order", async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  for (const title of ['first rule', 'second rule'])
    await createRule(app, ws, {
      title,
      event_types: ['lead.created'],
      request: { method: 'POST', url: 'http://127.0.0.1:9/in', body_format: 'json' },
    })
  const events = Array.from({ length: 200 }, (_, n) => ({
    type: 'lead.created',
    record: lead({ n }, `L-${n}`),
  }))
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: { events },
  })
  t.equal(res.statusCode, 202, res.body)
  const ids: string[] = res.json().data.flatMap((r: { deliveries: string[] }) => r.deliveries)
  t.equal(ids.length, 400)
  t.same(ids, [...ids].sort(), 'each delivery id after the one before')
})
