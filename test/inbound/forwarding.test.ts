import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'
import {
  getDelivery,
  setCallback,
  signingSecret,
  verifyStandardWebhook,
} from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

const form = { 'content-type': 'application/x-www-form-urlencoded' }
const leadHandler = {
  title: 'Contact form',
  parameters: [{ name: 'email', type: 'email', required: true }],
  mapping: [{ source: 'email', target: 'lead.email' }],
}

t.test('with no CRM callback a record waits, and goes once a callback is set', async (t) => {
  const testApp = await build(t)
  const { app } = testApp
  await startWorkers(t, testApp)
  const ws = await createWorkspace(app)
  const handler = await createHandler(app, ws.auth, leadHandler)
  const base = await listen(t, app)
  const url = `${base}${handler.path}`

  const sent = await send(url, { headers: form, body: 'email=ada%40example.com' })
  t.equal(sent.status, 200, sent.text)
  const call = await callOf(app, ws.auth, sent)
  t.equal(call.outcome, 'accepted')
  const noticeId = call.forwarded.notice_delivery_id
  t.ok(noticeId)
  // The worker has tried it: it waits, it is not dropped.
  const held = await eventually(async () => {
    const delivery = await getDelivery(app, ws, noticeId)
    return delivery.last_error ? delivery : undefined
  })
  t.match(held, { status: 'queued', attempts: 0, last_error: /waiting.*no CRM callback URL/ })
  t.equal((await callOf(app, ws.auth, sent)).forwarding, 'waiting')
  const listed = await app.inject({ url: `/v1/handlers/${handler.id}/calls`, headers: ws.auth })
  t.equal(listed.json().data[0].forwarding, 'waiting', 'the list shows it too')

  const crm = await startReceiver(t)
  await setCallback(app, ws, `${crm.url}/notices`)
  await crm.waitFor(1)
  const notice = verifyStandardWebhook(await signingSecret(app, ws), crm.received[0]!) as {
    type: string
    timestamp: string
    data: Record<string, unknown>
  }
  t.match(notice, {
    type: 'inbound.record',
    data: { call_id: call.id, record: { lead: { email: 'ada@example.com' } } },
  })
  // The whole notice, as the CRM reads it: what it is about, when the call came, when it was made.
  t.same(Object.keys(notice).sort(), ['data', 'timestamp', 'type'])
  t.same(Object.keys(notice.data).sort(), [
    'call_id',
    'entity_id',
    'entity_type',
    'handler_id',
    'received_at',
    'record',
  ])
  t.same(
    { ...notice.data, record: undefined },
    {
      handler_id: handler.id,
      call_id: call.id,
      entity_type: 'lead',
      entity_id: null,
      received_at: call.received_at,
      record: undefined,
    },
  )
  t.match(notice.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const forwarded = await eventually(async () => {
    const now = await callOf(app, ws.auth, sent)
    return now.forwarding === 'forwarded' ? now : undefined
  })
  t.equal(forwarded.outcome, 'accepted', 'the call keeps its own outcome beside it')

  // Not forwarded at all: a filtered call, a GET.
  const bad = await send(url, { headers: form, body: 'email=not-an-email' })
  t.equal((await callOf(app, ws.auth, bad)).forwarding, null)
})

t.test(
  'a 410 from the CRM callback is retried; a notice that fails for good reads failed',
  async (t) => {
    const testApp = await build(t)
    const { app, database } = testApp
    await startWorkers(t, testApp)
    const ws = await createWorkspace(app)
    let answer = 410
    const crm = await startReceiver(t, (_req, res) => res.writeHead(answer).end())
    await setCallback(app, ws, `${crm.url}/notices`)
    const handler = await createHandler(app, ws.auth, leadHandler)
    const base = await listen(t, app)
    const sent = await send(`${base}${handler.path}`, {
      headers: form,
      body: 'email=ada%40example.com',
    })
    t.equal(sent.status, 200, sent.text)
    const noticeId = (await callOf(app, ws.auth, sent)).forwarded.notice_delivery_id
    await crm.waitFor(1)
    const retrying = await eventually(async () => {
      const delivery = await getDelivery(app, ws, noticeId)
      return delivery.attempts === 1 && delivery.status === 'queued' ? delivery : undefined
    })
    t.match(retrying, { response_status: 410, last_error: /410/ }, 'a 410 is a failure to retry')
    t.ok(retrying.next_attempt_at, 'the next attempt is scheduled')
    t.equal((await callOf(app, ws.auth, sent)).forwarding, 'waiting')

    // The retries come due at once (as if their backoff had passed); every one is refused.
    const due = async () =>
      database.pool.query(
        `update jobs set run_at = now() where id = (select job_id from deliveries where id = $1)`,
        [noticeId],
      )
    const failed = await eventually(async () => {
      const delivery = await getDelivery(app, ws, noticeId)
      if (delivery.status === 'failed') return delivery
      await due()
      return undefined
    }, 60_000)
    t.equal(failed.attempts, 8, 'a notice has eight tries')
    t.equal((await callOf(app, ws.auth, sent)).forwarding, 'failed')

    // Resending the notice forwards the record once the CRM takes it.
    answer = 200
    const resent = await app.inject({
      method: 'POST',
      url: `/v1/deliveries/${noticeId}/resend`,
      headers: ws.auth,
    })
    t.equal(resent.statusCode, 202, resent.body)
    await eventually(async () => (await callOf(app, ws.auth, sent)).forwarding === 'forwarded')
  },
)
