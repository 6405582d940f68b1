import t, { type Test } from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, type DeliveryJson, lead, pause, ruleBody } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

/**
 * A rule in inline mode makes POST /v1/events wait for its response. No
 * worker runs in this file: whatever arrives at a receiver before the answer
 * was sent by the API call itself.
 */
const testApp = await build(t)
const { app } = testApp

async function setup(t: Test, status = 200) {
  const receiver = await startReceiver(t, (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end('{"data":{"id":"D-9"}}')
  })
  const ws = await createWorkspace(app)
  const inline = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/inline`, {
      title: 'inline',
      execution: { mode: 'inline', max_attempts: 2 },
      response: { format: 'json', mapping: [{ path: 'data.id', field: 'lead.dialer_id' }] },
    }),
  )
  const background = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/background`, { title: 'background' }),
  )
  return { receiver, ws, inline, background }
}

t.test("an inline rule is sent before the event's answer, which carries it", async (t) => {
  const { receiver, ws, inline, background } = await setup(t)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: ws.auth,
    payload: { type: 'lead.created', record: lead({ email: 'a@example.com' }, 'L-1') },
  })
  t.equal(res.statusCode, 202, res.body)
  t.same(
    receiver.received.map((r) => r.url),
    ['/inline'],
    'the inline rule was sent before the answer, the background one was not',
  )
  const body = res.json<{ deliveries: string[]; inline: DeliveryJson[] }>()
  t.equal(body.deliveries.length, 2)
  t.equal(body.inline.length, 1)
  t.match(body.inline[0], {
    rule_id: inline.id,
    status: 'succeeded',
    attempts: 1,
    response_status: 200,
    response_mapped: { 'lead.dialer_id': 'D-9' },
  })
  t.ok(body.deliveries.includes(body.inline[0]?.id as string))
  const queued = body.deliveries.find((id) => id !== body.inline[0]?.id) as string
  const other = await app.inject({ url: `/v1/deliveries/${queued}`, headers: ws.auth })
  t.match(other.json(), { rule_id: background.id, status: 'queued' }, 'the other rule is queued')
  await pause(200)
  t.equal(receiver.received.length, 1, 'the inline rule was sent once')
})

t.test('a failed inline attempt is answered, and its retry is queued', async (t) => {
  const { receiver, ws, inline } = await setup(t, 500)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: ws.auth,
    payload: { type: 'lead.created', record: lead({}, 'L-2') },
  })
  t.equal(res.statusCode, 202, res.body)
  t.equal(receiver.received.filter((r) => r.url === '/inline').length, 1)
  const [sent] = res.json<{ inline: DeliveryJson[] }>().inline
  t.match(sent, { rule_id: inline.id, status: 'queued', attempts: 1, response_status: 500 })
  const { rows } = await testApp.database.pool.query(
    'select j.run_at > now() as later from jobs j join deliveries d on d.job_id = j.id where d.id = $1',
    [sent?.id],
  )
  t.same(rows, [{ later: true }], 'the second attempt waits in the queue')
})

t.test('in a batch, and when repeated, inline rules are not sent again', async (t) => {
  const { receiver, ws } = await setup(t)
  const batch = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: { events: [{ type: 'lead.created', record: lead({}, 'L-3') }] },
  })
  t.equal(batch.statusCode, 202, batch.body)
  t.equal(batch.json().data[0].deliveries.length, 2)
  t.notOk('inline' in batch.json().data[0], 'a batch answers at once')
  t.equal(receiver.received.length, 0, 'and sends nothing itself')

  const event = {
    type: 'lead.created',
    record: lead({}, 'L-4'),
    idempotency_key: 'lead-L-4-created',
  }
  const post = () =>
    app.inject({ method: 'POST', url: '/v1/events', headers: ws.auth, payload: event })
  const first = await post()
  t.equal(first.json().inline.length, 1)
  const again = await post()
  t.equal(again.statusCode, 202)
  t.equal(again.json().duplicate, true)
  t.notOk('inline' in again.json(), 'a repeat answers the first answer, sending nothing')
  t.equal(receiver.received.filter((r) => r.url === '/inline').length, 1)
})
